export const USER_AGENT = "remote-builder-action/1";
