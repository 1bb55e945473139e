/**
 * The deal steps of protocol v2 at library level (PROTOCOL.md "Flow"), on the typed ethers client
 * of the v2 contracts and src/zk/v2: deploy, commit, the buyer's offer check and deal keys, funding,
 * the contributor's deal-key check, proving and submitting. The tasks, the server and the demo move
 * onto these steps in issue 14; each step checks what PROTOCOL.md says the party must check, and
 * throws a typed error naming the module or shape when a check fails.
 */
import path from "node:path";
import { ContractFactory, getAddress, type InterfaceAbi, type Signer } from "ethers";
import {
  LoraEscrowV2__factory,
  LoraModuleVerifierV2__factory,
  ShapeRegistryV2__factory,
  type LoraEscrowV2,
  type ShapeRegistryV2,
} from "../chain/typechain/index.js";
import {
  V2Verifier,
  checkDeltaUpdate,
  checkFoldedEntry,
  checkWeightPok,
  commitWeights,
  contributeDelta,
  deltaOf,
  foldEntry,
  proveV2,
  solidityShapeKey,
  toSolidityProofV2,
  type FoldedEntry,
  type G1Point,
  type G2Point,
  type ModuleOpening,
  type ShapeKey,
  type SolidityProofV2,
  type WeightPok,
} from "../zk/v2/index.js";
import { refuseForgeableKeys } from "./forgeable.js";
import { Progress } from "./progress.js";
import { ZkError } from "../zk/errors.js";
import type { ProvingPool } from "../zk/pool.js";
import type { ProgressFn } from "../zk/progress.js";

/** A check of PROTOCOL.md failed: the party must not go on (fund, prove). */
export class DealCheckError extends ZkError {
  constructor(message: string) {
    super("DEAL_CHECK", message);
  }
}

/** The v2 contracts of a deployment. */
export interface V2Deployment {
  registry: ShapeRegistryV2;
  escrow: LoraEscrowV2;
  /** Verifier address per shape id. */
  verifiers: Record<string, string>;
}

/** A compiled contract (e.g. `hre.artifacts.readArtifact(name)`). */
export interface V2Artifact {
  abi: readonly unknown[];
  bytecode: string;
}

/** The artifacts of the three v2 contracts. */
export interface V2Artifacts {
  registry: V2Artifact;
  verifier: V2Artifact;
  escrow: V2Artifact;
}

async function deployArtifact(a: V2Artifact, signer: Signer, args: unknown[]): Promise<string> {
  const c = await new ContractFactory(a.abi as InterfaceAbi, a.bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c.getAddress();
}

/** Deploys a registry, one verifier per shape key (registered), and the escrow. */
export async function deployV2(
  deployer: Signer,
  keys: readonly ShapeKey[],
  artifacts: V2Artifacts,
): Promise<V2Deployment> {
  const registry = ShapeRegistryV2__factory.connect(
    await deployArtifact(artifacts.registry, deployer, [await deployer.getAddress()]),
    deployer,
  );
  const verifiers: Record<string, string> = {};
  for (const key of keys) {
    const v = await deployArtifact(artifacts.verifier, deployer, [solidityShapeKey(key)]);
    await (await registry.register(v)).wait();
    verifiers[key.shapeId] = v;
  }
  const escrow = LoraEscrowV2__factory.connect(
    await deployArtifact(artifacts.escrow, deployer, [await registry.getAddress()]),
    deployer,
  );
  return { registry, escrow, verifiers };
}

/** One module of a commit: public part (shape, W_m, proof of knowledge) and the private opening. */
export interface CommittedModule {
  key: ShapeKey;
  W: G1Point;
  pok: WeightPok;
  opening: ModuleOpening;
}

/** The contributor commits to each module's weights for one escrow (the proofs of knowledge name it). */
export async function commitModules(
  chainId: bigint,
  escrow: string,
  contributor: string,
  modules: readonly { key: ShapeKey; opening: ModuleOpening }[],
): Promise<CommittedModule[]> {
  const out: CommittedModule[] = [];
  for (let m = 0; m < modules.length; m++) {
    const { key, opening } = modules[m];
    const { W, pok } = await commitWeights(key, opening, { chainId, escrow, contributor, module: m });
    out.push({ key, W, pok, opening });
  }
  return out;
}

/** The contributor proposes; returns the deal id. */
export async function proposeV2(
  escrow: LoraEscrowV2,
  contributor: Signer,
  p: { buyer: string; token: string; price: bigint; baseModelHash: string; window: bigint },
  modules: readonly Pick<CommittedModule, "key" | "W">[],
): Promise<bigint> {
  const c = escrow.connect(contributor);
  const rc = await (
    await c.propose(
      p.buyer,
      p.token,
      p.price,
      p.baseModelHash,
      p.window,
      modules.map((m) => ({ shapeId: m.key.shapeId, wM: m.W })),
    )
  ).wait();
  for (const log of rc!.logs) {
    const parsed = escrow.interface.parseLog(log);
    if (parsed?.name === "DealProposed") return parsed.args.dealId as bigint;
  }
  throw new DealCheckError("propose emitted no DealProposed event");
}

/**
 * The buyer's check before funding (PROTOCOL.md step 4): for every module of the deal on-chain,
 * the W_m the manifest shows equals the chain's, its proof of knowledge verifies in this deal's
 * context (chain, escrow, the deal's contributor, module index), and the registered verifier of its
 * shape holds exactly the constants and key hash the buyer derived itself from the pinned r1cs and
 * ptau; and, off a local chain, no shape key comes from the FORGEABLE development ptau (unless
 * `allowForgeableKeys`). Throws DealCheckError naming the first module or shape that fails.
 */
export async function checkOfferV2(
  escrow: LoraEscrowV2,
  dealId: bigint,
  manifest: readonly { key: ShapeKey; W: G1Point; pok: WeightPok }[],
  opts: { allowForgeableKeys?: boolean } = {},
): Promise<void> {
  const runner = escrow.runner!;
  const chainId = (await runner.provider!.getNetwork()).chainId;
  const forgeable = [
    ...new Set(manifest.filter((e) => e.key.ptau.source !== "public").map((e) => e.key.name)),
  ];
  try {
    refuseForgeableKeys({
      chainId,
      network: `chain ${chainId}`,
      forgeable,
      allow: opts.allowForgeableKeys === true,
      action: "fund a deal",
    });
  } catch (err) {
    throw new DealCheckError((err as Error).message);
  }
  const deal = await escrow.getDeal(dealId);
  if (Number(deal.modules) !== manifest.length) {
    throw new DealCheckError(`deal ${dealId} has ${deal.modules} modules, the manifest ${manifest.length}`);
  }
  const logs = await escrow.queryFilter(escrow.filters.ModuleCommitted(dealId));
  const registry = ShapeRegistryV2__factory.connect(await escrow.registry(), runner);
  const checkedShapes = new Set<string>();
  for (let m = 0; m < manifest.length; m++) {
    const { key, W, pok } = manifest[m];
    const ev = logs.find((l) => l.args.module === BigInt(m));
    if (ev === undefined) throw new DealCheckError(`module ${m}: no ModuleCommitted event`);
    if (ev.args.shapeId !== key.shapeId)
      throw new DealCheckError(`module ${m}: on-chain shape ${ev.args.shapeId} is not ${key.name}`);
    if (ev.args.wM[0] !== W[0] || ev.args.wM[1] !== W[1])
      throw new DealCheckError(`module ${m}: the manifest's W_m is not the one on-chain`);
    const pokOk = await checkWeightPok(key, W, pok, {
      chainId,
      escrow: await escrow.getAddress(),
      contributor: getAddress(deal.contributor),
      module: m,
    });
    if (!pokOk.ok) throw new DealCheckError(`module ${m}: ${pokOk.reason}; do not fund`);
    if (!checkedShapes.has(key.shapeId)) {
      const addr = await registry.verifierOf(key.shapeId);
      const v = LoraModuleVerifierV2__factory.connect(addr, runner);
      if ((await v.keyHash()) !== key.keyHash) {
        throw new DealCheckError(
          `shape ${key.name}: the registered verifier's key hash is not the one derived from the r1cs and ptau`,
        );
      }
      const [alpha, beta, gamma, ic0, icRho, icFY] = await v.constants();
      const k = key.onchain;
      const same = (a: readonly bigint[], b: readonly bigint[]) =>
        a.length === b.length && a.every((x, i) => x === b[i]);
      if (
        !same(alpha, k.alpha1) ||
        !same(beta, k.beta2) ||
        !same(gamma, k.gamma2) ||
        !same(ic0, k.ic0) ||
        !same(icRho, k.icRho) ||
        !same(icFY, k.icFY)
      ) {
        throw new DealCheckError(
          `shape ${key.name}: the registered verifier's constants differ from the derived key`,
        );
      }
      checkedShapes.add(key.shapeId);
    }
  }
}

/** The buyer's deal key of one shape: its own contribution to its own initial key. */
export interface DealKey {
  key: ShapeKey;
  zkey: string;
  delta2: G2Point;
}

/**
 * The buyer makes one deal key per shape of the deal (a fresh secret per key, never stored) into
 * `dir`, from the initial key it computed itself. Returns them in the deal's shape order. Each
 * contribution is a task line of `opts.progress`.
 */
export async function makeDealKeys(
  escrow: LoraEscrowV2,
  dealId: bigint,
  keys: readonly ShapeKey[],
  dir: string,
  opts: { progress?: Progress } = {},
): Promise<DealKey[]> {
  const progress = opts.progress ?? Progress.silent();
  const shapes = await escrow.shapesOf(dealId);
  const out: DealKey[] = [];
  for (const s of shapes) {
    const key = keys.find((k) => k.shapeId === s);
    if (key === undefined) throw new DealCheckError(`deal ${dealId} uses shape ${s}, which no given key has`);
    const zkey = path.join(dir, `deal-${dealId}-${key.name}.zkey`);
    await progress.run(`deal key of ${key.name}: a fresh contribution (δ')`, (t) =>
      contributeDelta(key.zkey, zkey, { name: `zklora deal ${dealId} ${key.name}`, onProgress: t.zk() }),
    );
    out.push({ key, zkey, delta2: (await deltaOf(zkey)).delta2 });
  }
  return out;
}

/** The buyer funds: deposit (ETH `value`), δ' per shape, one folded entry per module. */
export async function fundV2(
  escrow: LoraEscrowV2,
  buyer: Signer,
  dealId: bigint,
  dealKeys: readonly DealKey[],
  entries: readonly FoldedEntry[],
  value: bigint,
): Promise<void> {
  await (
    await escrow.connect(buyer).fund(
      dealId,
      dealKeys.map((k) => ({ shapeId: k.key.shapeId, delta: k.delta2 })),
      entries.map((e) => ({ hX: e.hX, hY: e.hY, dX: e.D_X, fY: e.fY })),
      { value },
    )
  ).wait();
}

/**
 * The contributor's check of a deal key handed to it (PROTOCOL.md "The contributor accepts a deal
 * key only if"): against its own initial key, and with [δ']₂ equal to the one funded on-chain.
 */
export async function acceptDealKey(
  escrow: LoraEscrowV2,
  dealId: bigint,
  key: ShapeKey,
  dealZkey: string,
  opts: { onProgress?: ProgressFn } = {},
): Promise<G2Point> {
  const ev = (await escrow.queryFilter(escrow.filters.DealKeySet(dealId, key.shapeId)))[0];
  if (ev === undefined)
    throw new DealCheckError(`deal ${dealId} has no δ' for shape ${key.name} on-chain (not funded?)`);
  const onchain = [...ev.args.delta] as G2Point;
  await checkDeltaUpdate(key.zkey, dealZkey, { expectedDelta2: onchain, onProgress: opts.onProgress });
  return onchain;
}

/**
 * The contributor proves module m: it recomputes the entry from ITS OWN record of the rows (X, Y)
 * and refuses on any difference with the entry on-chain, proves with the accepted deal key, and
 * verifies the proof locally before returning it.
 */
export async function proveModuleV2(
  escrow: LoraEscrowV2,
  dealId: bigint,
  m: number,
  mod: Pick<CommittedModule, "key" | "W" | "opening">,
  rows: { X: bigint[][]; Y: bigint[][] },
  dealZkey: string,
  opts: { pool?: ProvingPool; onProgress?: ProgressFn } = {},
): Promise<{
  claim: { module: number; shapeId: string; wM: G1Point; rho: bigint; fY: bigint; dX: G1Point };
  proof: SolidityProofV2;
}> {
  const ev = (await escrow.queryFilter(escrow.filters.EntryRegistered(dealId, BigInt(m))))[0];
  if (ev === undefined) throw new DealCheckError(`deal ${dealId} module ${m}: no entry on-chain`);
  const chainId = (await escrow.runner!.provider!.getNetwork()).chainId;
  const mine = await checkFoldedEntry(
    mod.key,
    rows.X,
    rows.Y,
    { chainId, escrow: await escrow.getAddress(), dealId, module: BigInt(m) },
    { hX: ev.args.hX, hY: ev.args.hY, fY: ev.args.fY, D_X: [ev.args.dX[0], ev.args.dX[1]] },
  );
  if (mine.rho !== ev.args.rho)
    throw new DealCheckError(
      `deal ${dealId} module ${m}: the contract's rho differs from the recomputed one`,
    );
  const { proof } = await proveV2(
    mod.key,
    dealZkey,
    mine,
    mod.opening,
    { D_X: mine.D_X, W_m: mod.W },
    { pool: opts.pool, onProgress: opts.onProgress },
  );
  return {
    claim: { module: m, shapeId: mod.key.shapeId, wM: mod.W, rho: mine.rho, fY: mine.fY, dX: mine.D_X },
    proof: toSolidityProofV2(proof),
  };
}

/** The buyer's entry of a module from its rows (what it posts at funding). */
export async function buyerEntry(
  escrow: LoraEscrowV2,
  dealId: bigint,
  m: number,
  key: ShapeKey,
  X: bigint[][],
  Y: bigint[][],
): Promise<FoldedEntry> {
  const chainId = (await escrow.runner!.provider!.getNetwork()).chainId;
  return foldEntry(key, X, Y, { chainId, escrow: await escrow.getAddress(), dealId, module: BigInt(m) });
}

/** Off-chain check of a proof under the deal's δ' (the contract's statement). */
export async function verifyClaimOffchain(
  key: ShapeKey,
  delta2: G2Point,
  claim: { rho: bigint; fY: bigint; dX: G1Point; wM: G1Point },
  proof: SolidityProofV2,
): Promise<boolean> {
  const v = await V2Verifier.create(key.onchain, delta2);
  const s = (x: bigint) => x.toString();
  return v.verify(
    {
      pi_a: [s(proof.a[0]), s(proof.a[1]), "1"],
      pi_b: [
        [s(proof.b[1]), s(proof.b[0])],
        [s(proof.b[3]), s(proof.b[2])],
        ["1", "0"],
      ],
      pi_c: [s(proof.c[0]), s(proof.c[1]), "1"],
      protocol: "groth16",
      curve: "bn128",
    },
    { rho: claim.rho, fY: claim.fY, D_X: claim.dX, W_m: claim.wM },
  );
}
