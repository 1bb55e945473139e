/**
 * Vite configuration of the dApp (web/): `npm run web` serves it, `npm run web:build` bundles it to
 * web/dist/. Besides the page, the server answers `GET /deployments/<network>.json` from the
 * repository's deployments/ folder (or `$ZKLORA_DEPLOYMENTS_DIR`, the tasks' own override), so the
 * page finds the record that `npx hardhat zklora:deploy --network <network>` wrote.
 *
 * `webConfig({ deploymentsDir, port })` is the same configuration for a programmatic server (the
 * browser tests start one with `createServer` over a temporary deployments folder).
 */
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Connect, type Plugin, type UserConfig } from "vite";

const WEB_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(WEB_DIR, "..");

/** Options of `webConfig`. */
export interface WebOptions {
  /** Folder of the deployment records (default `$ZKLORA_DEPLOYMENTS_DIR`, else `<repo>/deployments`). */
  deploymentsDir?: string;
  /** Port of the dev server (default 5173; the next free one when taken). */
  port?: number;
}

/** The deployments folder the server reads records from. */
export function deploymentsDirOf(o: WebOptions = {}): string {
  const fromEnv = process.env.ZKLORA_DEPLOYMENTS_DIR;
  if (o.deploymentsDir !== undefined) return path.resolve(o.deploymentsDir);
  if (fromEnv !== undefined && fromEnv !== "") return path.resolve(fromEnv);
  return path.join(ROOT, "deployments");
}

/** Serves `<dir>/<network>.json` at `/deployments/<network>.json` (records only, no other file). */
export function deploymentsPlugin(dir: string): Plugin {
  const handler: Connect.NextHandleFunction = (req: IncomingMessage, res: ServerResponse, next) => {
    const name = decodeURIComponent((req.url ?? "").split("?")[0].replace(/^\//, ""));
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*\.json$/.test(name)) return next();
    const network = name.slice(0, -".json".length);
    readFile(path.join(dir, name), "utf8").then(
      (text) => {
        res.setHeader("content-type", "application/json");
        res.setHeader("cache-control", "no-store");
        res.end(text);
      },
      () => {
        res.statusCode = 404;
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            error: `no deployment record ${path.join(dir, name)}: run \`npx hardhat zklora:deploy --network ${network}\``,
          }),
        );
      },
    );
  };
  return {
    name: "zklora-deployments",
    configureServer(server) {
      server.middlewares.use("/deployments", handler);
    },
    configurePreviewServer(server) {
      server.middlewares.use("/deployments", handler);
    },
  };
}

/** The dApp's Vite configuration. */
export function webConfig(o: WebOptions = {}): UserConfig {
  return {
    root: WEB_DIR,
    // Not the repository's .env files: the page needs no build-time variables.
    envDir: false,
    plugins: [deploymentsPlugin(deploymentsDirOf(o))],
    server: {
      host: "127.0.0.1",
      port: o.port ?? 5173,
      // The page imports the chain client from ../src/chain.
      fs: { allow: [ROOT] },
    },
    preview: { host: "127.0.0.1" },
    build: { outDir: path.join(WEB_DIR, "dist"), emptyOutDir: true, target: "es2022" },
    clearScreen: false,
  };
}

export default defineConfig(webConfig());
