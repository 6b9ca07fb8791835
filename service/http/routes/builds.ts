import type { BuildRequests } from "../../core/build-requests.js";
import { Problem } from "../../core/problems.js";
import { route, type RouteSpec } from "../route.js";
import {
  type BrokerInfo,
  Build,
  BuildList,
  BuildParams,
  buildJson,
  CompleteBuildBody,
  CreateBuildBody,
  GetBuildQuery,
  ListBuildsQuery,
} from "../schemas.js";

/** The reason a long poll's signal gives (an `abort()` with none builds a DOMException and its stack). */
const CLIENT_GONE = Symbol("the request is over");

export interface BuildRouteOptions {
  maxWaitSeconds: number;
  heartbeatIntervalSeconds: number;
  broker: BrokerInfo;
}

export function buildRoutes(builds: BuildRequests, options: BuildRouteOptions): RouteSpec[] {
  const json = (view: Parameters<typeof buildJson>[0]) =>
    buildJson(view, options.heartbeatIntervalSeconds, options.broker);
  return [
    route({
      method: "post",
      path: "/api/v1/builds",
      operationId: "createBuild",
      summary: "Admit a build: checks flag, plan, quota and concurrency, then starts or queues a builder",
      tag: "builds",
      auth: "agent",
      body: CreateBuildBody,
      response: {
        status: 201,
        schema: Build,
        description: "The build, pending (or queued, when waiting was asked for)",
      },
      problems: [
        "invalid-request",
        "unauthorized",
        "feature-disabled",
        "shape-not-allowed",
        "unknown-shape",
        "quota-exhausted",
        "concurrency-limit",
        "unsupported-media-type",
        "payload-too-large",
      ],
      async handle({ body, principal }) {
        if (body.waitSeconds > options.maxWaitSeconds) {
          throw new Problem(
            "invalid-request",
            `waitSeconds is ${body.waitSeconds}; the most this service allows is ${options.maxWaitSeconds}.`,
            { errors: [{ path: "body.waitSeconds", message: `at most ${options.maxWaitSeconds}` }] },
          );
        }
        const view = await builds.create(principal!, body);
        return { body: json(view), headers: { Location: `/api/v1/builds/${view.build.id}` } };
      },
    }),
    route({
      method: "get",
      path: "/api/v1/builds",
      operationId: "listBuilds",
      summary: "The account's builds, newest first",
      tag: "builds",
      auth: "agent",
      query: ListBuildsQuery,
      response: { status: 200, schema: BuildList, description: "Builds" },
      problems: ["invalid-request", "unauthorized"],
      async handle({ query, principal }) {
        const list = await builds.list(principal!, query.state ?? null, query.limit);
        return { body: { builds: list.map((build) => json({ build, queue: null })) } };
      },
    }),
    route({
      method: "get",
      path: "/api/v1/builds/:id",
      operationId: "getBuild",
      summary: "A build; with ?wait=N, a long poll until it is ready or ends (at most N seconds)",
      tag: "builds",
      auth: "agent",
      params: BuildParams,
      query: GetBuildQuery,
      response: { status: 200, schema: Build, description: "The build" },
      problems: ["invalid-request", "unauthorized", "not-found"],
      async handle({ params, query, principal, req }) {
        if (!query.wait) return { body: json(await builds.get(principal!, params.id)) };
        const gone = new AbortController();
        req.on("close", () => gone.abort(CLIENT_GONE));
        return { body: json(await builds.waitFor(principal!, params.id, query.wait * 1000, gone.signal)) };
      },
    }),
    route({
      method: "post",
      path: "/api/v1/builds/:id/heartbeat",
      operationId: "heartbeatBuild",
      summary: "Keep the build's claims alive; send one every heartbeatIntervalSeconds",
      tag: "builds",
      auth: "agent",
      params: BuildParams,
      response: { status: 200, schema: Build, description: "The build" },
      problems: ["invalid-request", "unauthorized", "not-found", "illegal-transition", "claim-lost"],
      async handle({ params, principal }) {
        return { body: json(await builds.heartbeat(principal!, params.id)) };
      },
    }),
    route({
      method: "post",
      path: "/api/v1/builds/:id/complete",
      operationId: "completeBuild",
      summary: "End the build with the job's result; its slot and cache volume go back at once",
      tag: "builds",
      auth: "agent",
      params: BuildParams,
      body: CompleteBuildBody,
      response: { status: 200, schema: Build, description: "The completed build" },
      problems: [
        "invalid-request",
        "unauthorized",
        "not-found",
        "illegal-transition",
        "unsupported-media-type",
      ],
      async handle({ params, body, principal }) {
        return { body: json(await builds.complete(principal!, params.id, body.result)) };
      },
    }),
  ];
}
