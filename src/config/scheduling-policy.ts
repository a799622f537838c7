import type { ProcessGroupConfig } from './model';

export type SchedulingPolicy = ProcessGroupConfig['schedulingPolicy'];

/** The policy a scheduling-policy value names (any case), or null if it names none. */
export function schedulingPolicyNamed(text: string): SchedulingPolicy | null {
  const v = text.toLowerCase();
  return v === 'batch' || v === 'normal' ? v : null;
}
