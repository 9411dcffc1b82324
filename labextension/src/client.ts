/** Typed routes of the jupyter-hpo REST API. */
import { requestAPI, RequestFn } from './handler';
import {
  IActionRequest,
  ICampaignReply,
  IJobReply,
  IJobSummary,
  IJobsReply,
  ITrialRecord,
  ITrialsReply
} from './types';

/** What the model needs from the server; tests pass a fake. */
export interface IHpoClient {
  /** `GET jobs`: every job, and who the server takes this user for (`me`) */
  listJobs(): Promise<IJobsReply>;
  /** `GET jobs/{name}` */
  getJob(name: string): Promise<IJobReply>;
  /** `GET jobs/{name}/trials?after=N`: trials numbered above `after` */
  getTrials(name: string, after: number): Promise<ITrialRecord[]>;
  /** `POST jobs/{name}/stop`; `force` for another user's job */
  stopJob(name: string, force?: boolean): Promise<IJobSummary>;
  /** `POST jobs/{name}/resume`; `force` for another user's job */
  resumeJob(name: string, force?: boolean): Promise<IJobSummary>;
}

/** The REST client, over `requestAPI` (or another request function). */
export class HpoClient implements IHpoClient {
  constructor(private readonly request: RequestFn = requestAPI) {}

  listJobs(): Promise<IJobsReply> {
    return this.request<IJobsReply>('jobs');
  }

  getJob(name: string): Promise<IJobReply> {
    return this.request<IJobReply>(jobPath(name));
  }

  async getTrials(name: string, after: number): Promise<ITrialRecord[]> {
    const reply = await this.request<ITrialsReply>(
      `${jobPath(name)}/trials?after=${encodeURIComponent(String(after))}`
    );
    return reply.trials;
  }

  async stopJob(name: string, force = false): Promise<IJobSummary> {
    return (await this.request<IJobReply>(`${jobPath(name)}/stop`, actionInit(force))).job;
  }

  async resumeJob(name: string, force = false): Promise<IJobSummary> {
    return (await this.request<IJobReply>(`${jobPath(name)}/resume`, actionInit(force))).job;
  }
}

/** The campaign routes: `POST campaigns/{name}/stop` and `.../resume` (`force`: a job of it is another user's). */
export class CampaignClient {
  constructor(private readonly request: RequestFn = requestAPI) {}

  stop(name: string, force = false): Promise<ICampaignReply> {
    return this.request<ICampaignReply>(`campaigns/${encodeURIComponent(name)}/stop`, actionInit(force));
  }

  resume(name: string, force = false): Promise<ICampaignReply> {
    return this.request<ICampaignReply>(`campaigns/${encodeURIComponent(name)}/resume`, actionInit(force));
  }
}

/** A stop or resume request: `{"force": true}` only when acting on another user's job. */
export function actionInit(force: boolean): RequestInit {
  if (!force) {
    return { method: 'POST' };
  }
  const body: IActionRequest = { force: true };
  return { method: 'POST', body: JSON.stringify(body) };
}

function jobPath(name: string): string {
  return `jobs/${encodeURIComponent(name)}`;
}
