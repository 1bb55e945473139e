/**
 * Every zklora task, registered in hardhat.config.ts. Each task lives in its own file under
 * tasks/ (a definition here, a lazily imported action module `tasks/actions/<name>.ts`) and only
 * parses arguments and calls the library in src/.
 */
import type { TaskDefinition } from "hardhat/types/tasks";
import { dealTasks } from "./deal.js";
import { demoTask } from "./demo.js";
import { deployTask } from "./deploy.js";
import { beaconTask, contributeTask, verifyKeyTask } from "./key.js";
import { workerTask } from "./worker.js";

export const zkloraTasks: TaskDefinition[] = [
  deployTask,
  ...dealTasks,
  workerTask,
  contributeTask,
  beaconTask,
  verifyKeyTask,
  demoTask,
];
