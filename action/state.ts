/** What main leaves for post (`core.saveState`): no secret is ever kept here. */
export const STATE = {
  isPost: "is-post",
  session: "session",
  keeperPid: "keeper-pid",
} as const;
