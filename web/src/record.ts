/**
 * The deployment record as the page reads it. src/chain/deployments.ts's `parseDeployment` also
 * holds the records' Node file I/O (lazy node: imports that a browser build would have to stub),
 * so the page checks the fields it uses here, with the same messages (test/web/model.test.ts
 * compares both on good and broken records).
 */
import type { DeploymentRecord } from "../../src/chain/index.js";

/** The record is malformed. */
export class RecordError extends Error {
  override name = "DeploymentRecordError";
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** Checks a fetched `deployments/<network>.json` for what the page needs; throws RecordError naming the bad field. */
export function checkRecord(json: unknown): DeploymentRecord {
  const r = json as Partial<DeploymentRecord> | null | undefined;
  if (r === undefined || r === null || typeof r !== "object") {
    throw new RecordError("a deployment record must be a JSON object");
  }
  if (r.format !== "zklora-deployment/2") {
    throw new RecordError(
      `format must be "zklora-deployment/2" (protocol v2), got ${JSON.stringify(r.format)}: run zklora:deploy again`,
    );
  }
  if (typeof r.network !== "string") throw new RecordError("network must be a string");
  if (!Number.isInteger(r.chainId)) throw new RecordError("chainId must be an integer");
  if (!Number.isInteger(r.blockNumber)) throw new RecordError("blockNumber must be an integer");
  if (r.contracts === undefined || typeof r.contracts !== "object")
    throw new RecordError("contracts: missing");
  for (const name of ["ShapeRegistryV2", "LoraEscrowV2"] as const) {
    const c = r.contracts[name] as { address?: unknown } | undefined;
    if (c === undefined || typeof c !== "object") throw new RecordError(`contracts.${name}: missing`);
    if (typeof c.address !== "string" || !ADDRESS.test(c.address)) {
      throw new RecordError(
        `contracts.${name}.address must be a 20-byte hex address, got ${String(c.address)}`,
      );
    }
  }
  if (!Array.isArray(r.shapes)) throw new RecordError("shapes must be an array");
  r.shapes.forEach((sh, i) => {
    if (typeof sh?.name !== "string") throw new RecordError(`shapes[${i}].name must be a string`);
    if (typeof sh.shapeId !== "string")
      throw new RecordError(`shapes[${i}].shapeId must be a 32-byte hex value`);
  });
  return r as DeploymentRecord;
}
