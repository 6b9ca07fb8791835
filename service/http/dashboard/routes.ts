import express, { type Request, type Response } from "express";
import type { Account } from "../../core/accounts.js";
import type { Dashboard } from "../../core/dashboard.js";
import type { DashboardAccess } from "../../core/dashboard-access.js";
import type { BuildEvents } from "../../core/build-events.js";
import type { DashboardGrant } from "../../core/ports.js";
import { Problem } from "../../core/problems.js";
import { DASHBOARD_CSS, dashboardPage, messagePage } from "../../dashboard/render.js";
import { sendProblem } from "../problem.js";
import { dashboardScript } from "./assets.js";

export const SESSION_COOKIE = "rb_dashboard";
/** The page's content policy: its own origin only, no inline script, no framing. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/** How often the live list re-reads the builds (changes made on other replicas) and checks the session. */
const RESYNC_MS = 10_000;

export interface DashboardRouteDeps {
  access: DashboardAccess;
  dashboard: Dashboard;
  events: BuildEvents;
}

/**
 * The account's dashboard: sign-in by one-time link, the page, its live events, volume resets and
 * assets. Not API routes (no bearer token, not in the OpenAPI document): a browser session's.
 */
export function dashboardRouter({ access, dashboard, events }: DashboardRouteDeps): express.Router {
  const router = express.Router();
  router.use("/dashboard", (_req, res, next) => {
    res.setHeader("Content-Security-Policy", DASHBOARD_CSP);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "no-referrer");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Cache-Control", "no-store");
    next();
  });

  router.get("/dashboard/sign-in", async (req, res) => {
    const token = typeof req.query.token === "string" ? req.query.token : "";
    try {
      const { session, maxAgeMs } = await access.redeem(token);
      res.cookie(SESSION_COOKIE, session, {
        httpOnly: true,
        sameSite: "strict",
        secure: servedOverTls(req),
        path: "/dashboard",
        maxAge: maxAgeMs,
      });
      res.redirect(303, "/dashboard");
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      refuse(req, res, err, "This sign-in link does not work");
    }
  });

  router.get("/dashboard", async (req, res) => {
    const signedIn = await signedInAccount(req, res);
    if (!signedIn) return;
    const view = await dashboard.view(signedIn.grant, signedIn.account);
    res.type("html").send(dashboardPage(view));
  });

  router.get("/dashboard/events", async (req, res) => {
    const signedIn = await signedInAccount(req, res);
    if (!signedIn) return;
    const { grant, account } = signedIn;
    res.writeHead(200, { "Content-Type": "text/event-stream", Connection: "keep-alive" });
    res.write("retry: 2000\n\n");
    const sent = new Map<string, string>();
    const send = (row: unknown, id: string) => {
      const json = JSON.stringify(row);
      if (sent.get(id) === json) return;
      sent.set(id, json);
      res.write(`event: build\ndata: ${json}\n\n`);
    };
    let queue = Promise.resolve();
    const stop = events.watch((buildId, accountId) => {
      if (accountId !== undefined && accountId !== account.id) return;
      // In order, one read at a time: a build's later change is never overtaken by an earlier one.
      queue = queue
        .then(async () => {
          const row = await dashboard.row(grant, account.id, buildId);
          if (row) send(row, row.id);
        })
        .catch(() => undefined);
    });
    const resync = setInterval(() => {
      queue = queue
        .then(async () => {
          if (!(await access.session(cookie(req, SESSION_COOKIE)))) {
            res.write("event: signed-out\ndata: {}\n\n");
            cleanUp();
            res.end();
            return;
          }
          for (const row of (await dashboard.rows(grant, account)).reverse()) send(row, row.id);
        })
        .catch(() => undefined);
    }, RESYNC_MS);
    const cleanUp = () => {
      stop();
      clearInterval(resync);
    };
    // The response's close: the browser went away, or the stream ended above.
    res.on("close", cleanUp);
  });

  router.post("/dashboard/volumes/:name/reset", async (req, res) => {
    await change(req, res, async ({ grant, account }) => {
      await dashboard.reset(grant, account, String(req.params.name));
      return { reset: req.params.name };
    });
  });

  router.post("/dashboard/trust/:id/remove", async (req, res) => {
    await change(req, res, async ({ grant, account }) => {
      await dashboard.removeTrust(grant, account, String(req.params.id));
      return { removed: req.params.id };
    });
  });

  /** A change from the page: only with its header and a session; refusals are problems. */
  async function change(
    req: Request,
    res: Response,
    work: (signedIn: { grant: DashboardGrant; account: Account }) => Promise<unknown>,
  ): Promise<void> {
    // A header no cross-site form can send (and SameSite=Strict): no request forgery.
    if (req.headers["x-dashboard-request"] !== "1") {
      sendProblem(
        res,
        new Problem("invalid-request", "Changes come from the dashboard's page (X-Dashboard-Request: 1)."),
        req.path,
      );
      return;
    }
    const signedIn = await signedInAccount(req, res);
    if (!signedIn) return;
    try {
      res.json(await work(signedIn));
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      sendProblem(res, err, req.path);
    }
  }

  router.get("/dashboard/app.js", async (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=300");
    res.type("text/javascript").send(await dashboardScript());
  });
  router.get("/dashboard/app.css", (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=300");
    res.type("text/css").send(DASHBOARD_CSS);
  });

  /** The session's grant and the account it looks at; otherwise answers (sign-in page or problem) and null. */
  async function signedInAccount(
    req: Request,
    res: Response,
  ): Promise<{ grant: DashboardGrant; account: Account } | null> {
    const grant = await access.session(cookie(req, SESSION_COOKIE));
    if (!grant) {
      refuse(
        req,
        res,
        new Problem(
          "unauthorized",
          "Sign in with a link from `remote-builder dashboard` (sessions last an hour).",
        ),
        "Sign in to the dashboard",
      );
      return null;
    }
    const picked = typeof req.query.account === "string" ? req.query.account : undefined;
    try {
      const account = await dashboard.account(grant, picked);
      if (!account) {
        refuse(req, res, new Problem("not-found", "There are no accounts yet."), "No accounts");
        return null;
      }
      return { grant, account };
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      refuse(req, res, err, "Not found");
      return null;
    }
  }

  return router;
}

/** A refusal: a page for a browser, `application/problem+json` for anything else. */
function refuse(req: Request, res: Response, problem: Problem, title: string): void {
  if (req.accepts(["json", "html"]) === "html") {
    res
      .status(problem.status)
      .type("html")
      .send(messagePage(title, problem.detail, problem.type));
    return;
  }
  sendProblem(res, problem, req.path);
}

function servedOverTls(req: Request): boolean {
  return req.secure || req.headers["x-forwarded-proto"] === "https";
}

/** One cookie's value from the Cookie header (no cookie-parser: this is the only cookie). */
export function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return undefined;
}
