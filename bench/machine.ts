import * as fs from 'node:fs';
import * as os from 'node:os';
import { WRK } from './load/wrk';
import { PYTHON } from './paths';
import type { MachineInfo } from './results';
import type { ServerRecipe } from './servers/recipe';
import { commandOutput } from './servers/versions';

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return match?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?';
  } catch {
    return os.cpus()[0]?.model ?? '?';
  }
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?(.*?)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** The machine and the versions of everything measured, for docs/benchmarks.md. */
export function machineInfo(recipes: ServerRecipe[]): MachineInfo {
  const versions: Record<string, string> = {
    node: process.version,
    python: `${commandOutput(PYTHON, ['--version']) ?? '?'} (${PYTHON})`,
    flask: commandOutput(PYTHON, ['-c', "import importlib.metadata as m; print(m.version('flask'))"]) ?? '?',
    wrk: commandOutput(WRK, ['-v'])?.split('\n')[0]?.replace(/ Copyright.*/, '') ?? '?',
  };
  for (const recipe of recipes) if (recipe.unavailable() === null) versions[recipe.name] = recipe.version();
  return {
    cpuModel: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    os: osName(),
    versions,
  };
}
