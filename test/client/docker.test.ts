import { describe, expect, it } from "@jest/globals";
import { buildxBootstrapArgs, buildxCreateArgs, buildxRmArgs } from "../../service/client/docker.js";

describe("buildx argv", () => {
  const options = {
    name: "rb-0123abcd",
    endpoint: "tcp://builds.example.com:443",
    serverName: "builds.example.com",
    caPath: "/tmp/rb/ca.pem",
    certPath: "/tmp/rb/cert.pem",
    keyPath: "/tmp/rb/key.pem",
  };

  it("creates a remote-driver builder with the build's certificate, and uses it when asked", () => {
    expect(buildxCreateArgs({ ...options, use: true })).toEqual([
      "buildx",
      "create",
      "--name",
      "rb-0123abcd",
      "--driver",
      "remote",
      "--driver-opt",
      "cacert=/tmp/rb/ca.pem,cert=/tmp/rb/cert.pem,key=/tmp/rb/key.pem,servername=builds.example.com",
      "--use",
      "tcp://builds.example.com:443",
    ]);
  });

  it("leaves --use out when not asked, with the endpoint still last", () => {
    expect(buildxCreateArgs({ ...options, use: false })).toEqual([
      "buildx",
      "create",
      "--name",
      "rb-0123abcd",
      "--driver",
      "remote",
      "--driver-opt",
      "cacert=/tmp/rb/ca.pem,cert=/tmp/rb/cert.pem,key=/tmp/rb/key.pem,servername=builds.example.com",
      "tcp://builds.example.com:443",
    ]);
  });

  it("bootstraps and removes the builder by name", () => {
    expect(buildxBootstrapArgs("rb-x")).toEqual(["buildx", "inspect", "--bootstrap", "rb-x"]);
    expect(buildxRmArgs("rb-x")).toEqual(["buildx", "rm", "rb-x"]);
  });
});
