import type { AccountService } from "../core/account-service.js";
import type { Account, Principal } from "../core/accounts.js";
import { Problem } from "../core/problems.js";

/**
 * The account a path names, as seen by the caller: the admin sees every account, an agent token
 * or credential only its own. Any other is "not found", never "forbidden", so that account
 * handles cannot be probed.
 */
export async function visibleAccount(
  accounts: AccountService,
  ref: string,
  principal: Principal | null,
): Promise<Account> {
  // Only "no such account" is hidden behind the 404 below; a failing database is not a missing account.
  const account = await accounts.get(ref).catch((err: unknown) => {
    if (err instanceof Problem && err.kind === "not-found") return null;
    throw err;
  });
  if (!account || (principal && principal.account.id !== account.id)) {
    throw new Problem("not-found", `There is no account "${ref}" visible to this token.`);
  }
  return account;
}
