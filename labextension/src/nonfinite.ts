import { NonFinite, NonFiniteKind } from './types';

const SHOWN: Record<NonFiniteKind, string> = { nan: 'NaN', inf: '+inf', '-inf': '-inf' };

/**
 * What a record's `nonfinite` flags say, for a person: `fold_mean was NaN, fold_std was +inf`.
 * Empty when every number was finite (or the server sent no flags).
 */
export function describeNonFinite(flags: NonFinite | undefined | null): string {
  return Object.entries(flags ?? {})
    .map(([path, kind]) => `${path} was ${SHOWN[kind] ?? String(kind)}`)
    .join(', ');
}
