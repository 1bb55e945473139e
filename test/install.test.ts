/**
 * The install keeps to the project's own files: npm reads no unknown project config (`.npmrc`), and
 * onnxruntime-node's install script, which would download the CUDA execution provider (gigabytes,
 * from outside the npm registry), is denied in package.json's `allowScripts` (npm 11.19+), while the
 * `node` package's (the project's Node 22) and esbuild's run. msgpackr-extract's (an optional native
 * speed-up of BullMQ's msgpack, which falls back to JavaScript) is denied too: nothing is compiled
 * or fetched at install.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import { PROJECT_ROOT } from "../src/common/cache.js";

describe("# install (npm ci)", function () {
  it("Should warn about no unknown project config", function () {
    const r = spawnSync("npm", ["config", "get", "fund"], { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.not.match(/Unknown project config/);
  });

  it("Should deny onnxruntime-node's install script (no CUDA download) and msgpackr-extract's, and allow node's and esbuild's", async function () {
    const pkg = JSON.parse(await readFile(path.join(PROJECT_ROOT, "package.json"), "utf8")) as {
      allowScripts?: Record<string, boolean>;
    };
    expect(pkg.allowScripts).to.deep.equal({
      esbuild: true,
      node: true,
      "onnxruntime-node": false,
      "msgpackr-extract": false,
    });
    const bin = path.join(PROJECT_ROOT, "node_modules", "onnxruntime-node", "bin", "napi-v6", "linux", "x64");
    if (existsSync(bin)) {
      expect(existsSync(path.join(bin, "libonnxruntime_providers_cuda.so"))).to.equal(false);
    }
  });
});
