/**
 * Generates the committed ABIs and ethers-v6 TypeChain types that src/chain's client is typed
 * from: `src/chain/abi/<Contract>.json` (ABI only) and `src/chain/typechain/` (TypeChain's ethers-v6
 * target, factories without bytecode). They are committed so that `tsc`, a browser bundler and a
 * dApp work on a fresh clone without compiling the contracts first; this script keeps them equal
 * to the compiled contracts.
 *
 *   npm run abi          # hardhat build, then regenerate
 *   npm run abi:check    # hardhat build, then fail when the committed files drift
 *
 * Reads Hardhat's artifacts (artifacts/contracts/...) and OpenZeppelin's shipped IERC20Metadata
 * ABI. Needs no Hardhat runtime (the npm scripts run `hardhat build` first).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runTypeChain } from "typechain";
import { outputTransformers } from "typechain/dist/codegen/outputTransformers/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ABI_DIR = path.join(ROOT, "src", "chain", "abi");
const TYPES_DIR = path.join(ROOT, "src", "chain", "typechain");

/** The contracts the client talks to, and where their ABI comes from. */
const SOURCES: { name: string; file: string }[] = [
  {
    name: "LoraModuleVerifierV2",
    file: "artifacts/contracts/v2/LoraModuleVerifierV2.sol/LoraModuleVerifierV2.json",
  },
  {
    name: "LoraKeyWrapVerifierV2",
    file: "artifacts/contracts/v2/LoraKeyWrapVerifierV2.sol/LoraKeyWrapVerifierV2.json",
  },
  { name: "ShapeRegistryV2", file: "artifacts/contracts/v2/ShapeRegistryV2.sol/ShapeRegistryV2.json" },
  { name: "LoraEscrowV2", file: "artifacts/contracts/v2/LoraEscrowV2.sol/LoraEscrowV2.json" },
  {
    name: "IERC20Metadata",
    file: "node_modules/@openzeppelin/contracts/build/contracts/IERC20Metadata.json",
  },
];

async function listFiles(dir: string, base = dir): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, base)));
    else out.push(path.relative(base, p));
  }
  return out.sort();
}

/** TypeChain's node16 output still imports folders without `/index.js`; fix like hardhat-typechain does. */
function fixImports(content: string): string {
  return content.replace(
    /^import\s+(.*?)\s+from\s+(['"])(\.[^'"]*)(?<!\.js)\2;?$/gm,
    (_m, imports: string, q: string, p: string) => `import ${imports} from ${q}${p}/index.js${q};`,
  );
}

/** Writes the ABIs and types into `abiDir` / `typesDir`. */
async function generate(abiDir: string, typesDir: string): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), "zklora-abi-"));
  try {
    await mkdir(abiDir, { recursive: true });
    const inputs: string[] = [];
    for (const s of SOURCES) {
      const file = path.join(ROOT, s.file);
      if (!existsSync(file)) {
        throw new Error(`${s.file} is missing: run \`npx hardhat build\` first (npm run abi does)`);
      }
      const { abi } = JSON.parse(await readFile(file, "utf8")) as { abi: unknown[] };
      const text = JSON.stringify(abi, null, 2) + "\n";
      await writeFile(path.join(abiDir, `${s.name}.json`), text);
      const input = path.join(work, `${s.name}.json`);
      await writeFile(input, text);
      inputs.push(input);
    }
    await rm(typesDir, { recursive: true, force: true });
    // Only TypeChain's preamble: its own (old) prettier pass, or the one hardhat-typechain swaps in
    // when Hardhat is loaded, would make the output depend on the process. Prettier 3 runs below.
    const saved = outputTransformers.splice(0, outputTransformers.length);
    outputTransformers.push(...saved.filter((t) => t.name === "addPreambleOutputTransformer"));
    try {
      await runTypeChain({
        cwd: work,
        target: "ethers-v6",
        outDir: typesDir,
        filesToProcess: inputs,
        allFiles: inputs,
        inputDir: work,
        flags: {
          alwaysGenerateOverloads: false,
          discriminateTypes: false,
          node16Modules: true,
          environment: undefined,
        },
      });
    } finally {
      outputTransformers.splice(0, outputTransformers.length, ...saved);
    }
    const prettier = await import("prettier");
    for (const rel of await listFiles(typesDir)) {
      const file = path.join(typesDir, rel);
      const config = (await prettier.resolveConfig(path.join(ROOT, "src", "chain", "x.ts"))) ?? {};
      let content = fixImports(await readFile(file, "utf8"));
      // Barrels and ABI-only factories lint clean: drop their (then unused) blanket eslint-disable.
      if (/(^|\/)index\.ts$|__factory\.ts$/.test(rel))
        content = content.replace("/* eslint-disable */\n", "");
      // Prettier is not idempotent on some TypeChain signatures: format until the text is stable.
      let text = content;
      for (let pass = 0; pass < 3; pass++) {
        const next = await prettier.format(text, { ...config, filepath: file });
        if (next === text) break;
        text = next;
      }
      await writeFile(file, text);
    }
    for (const s of SOURCES) {
      const file = path.join(abiDir, `${s.name}.json`);
      const config = (await prettier.resolveConfig(file)) ?? {};
      await writeFile(
        file,
        await prettier.format(await readFile(file, "utf8"), { ...config, filepath: file }),
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Regenerates into a scratch folder and lists every committed file that differs. */
export async function abiDrift(): Promise<string[]> {
  const scratch = await mkdtemp(path.join(tmpdir(), "zklora-abi-check-"));
  try {
    const abiDir = path.join(scratch, "abi");
    const typesDir = path.join(scratch, "types");
    await generate(abiDir, typesDir);
    const drift: string[] = [];
    for (const [fresh, committed, rel] of [
      [abiDir, ABI_DIR, "src/chain/abi"],
      [typesDir, TYPES_DIR, "src/chain/typechain"],
    ] as const) {
      const a = await listFiles(fresh);
      const b = await listFiles(committed);
      for (const f of new Set([...a, ...b])) {
        const pa = path.join(fresh, f);
        const pb = path.join(committed, f);
        if (
          !existsSync(pa) ||
          !existsSync(pb) ||
          (await readFile(pa, "utf8")) !== (await readFile(pb, "utf8"))
        ) {
          drift.push(`${rel}/${f}`);
        }
      }
    }
    return drift;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv.includes("--check")) {
    const drift = await abiDrift();
    if (drift.length > 0) {
      console.error(
        `the committed ABIs/types drift from the compiled contracts: ${drift.join(", ")}\n` +
          "run `npm run abi` and commit src/chain/abi and src/chain/typechain",
      );
      process.exitCode = 1;
    } else console.log("src/chain/abi and src/chain/typechain match the compiled contracts");
  } else {
    await generate(ABI_DIR, TYPES_DIR);
    console.log(`wrote ${path.relative(ROOT, ABI_DIR)} and ${path.relative(ROOT, TYPES_DIR)}`);
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
