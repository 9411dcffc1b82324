/** Number and text formatting shared by the components. */
import { ParamValue } from '../types';

/** A metric value with 4 significant digits ('–' for none). */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '–';
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-3)) {
    return value.toExponential(2);
  }
  return String(Number(value.toPrecision(4)));
}

/** Seconds, with 2 decimals below 10 s ('–' for none). */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '–';
  }
  return seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1);
}

/** A parameter value as plain text. */
export function formatParam(value: ParamValue | undefined): string {
  if (value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : formatValue(value);
  }
  return value === null ? 'null' : String(value);
}

/** `k=v, k=v` for a parameter dict. */
export function formatParams(params: Record<string, ParamValue>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${formatParam(v)}`)
    .join(', ');
}
