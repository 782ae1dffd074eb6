/** What the results were measured on, written next to them. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGB: number;
  node: string;
  platform: string;
  date: string;
  /** 1-minute load average when the bench started and ended: other work on the machine. */
  loadStart: number;
  loadEnd: number;
  /** Commit of the tree, and whether lib/ had uncommitted changes. */
  commit: string;
  /** sha256 of lib/*.ts as measured (first 12 hex digits): tells apart uncommitted states of lib/. */
  libHash: string;
}

function gitCommit(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    return dirty === '' ? head : `${head} (lib/ modified)`;
  } catch {
    return 'unknown';
  }
}

function hashLib(root: string): string {
  const hash = createHash('sha256');
  const dir = join(root, 'lib');
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .sort()) {
    hash.update(name).update(readFileSync(join(dir, name)));
  }
  return hash.digest('hex').slice(0, 12);
}

export function describeMachine(root: string): MachineInfo {
  const processors = cpus();
  return {
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cores: processors.length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    loadStart: loadavg()[0],
    loadEnd: NaN,
    commit: gitCommit(root),
    libHash: hashLib(root),
  };
}

export function finishMachine(machine: MachineInfo): void {
  machine.loadEnd = loadavg()[0];
}

export function machineLine(machine: MachineInfo): string {
  return (
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGB} GB, ${machine.platform}, Node ${machine.node}, ` +
    `${machine.date.slice(0, 16).replace('T', ' ')} UTC, load ${machine.loadStart.toFixed(2)} → ${machine.loadEnd.toFixed(2)}, ` +
    `commit ${machine.commit}, lib/*.ts sha256 ${machine.libHash}`
  );
}
