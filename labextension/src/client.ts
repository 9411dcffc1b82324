/** Typed routes of the jupyter-hpo REST API. */
import { requestAPI, RequestFn } from './handler';
import {
  IJobReply,
  IJobSummary,
  IJobsReply,
  ITrialRecord,
  ITrialsReply
} from './types';

/** What the model needs from the server; tests pass a fake. */
export interface IHpoClient {
  /** `GET jobs` */
  listJobs(): Promise<IJobSummary[]>;
  /** `GET jobs/{name}` */
  getJob(name: string): Promise<IJobReply>;
  /** `GET jobs/{name}/trials?after=N`: trials numbered above `after` */
  getTrials(name: string, after: number): Promise<ITrialRecord[]>;
  /** `POST jobs/{name}/stop` */
  stopJob(name: string): Promise<IJobSummary>;
  /** `POST jobs/{name}/resume` */
  resumeJob(name: string): Promise<IJobSummary>;
}

/** The REST client, over `requestAPI` (or another request function). */
export class HpoClient implements IHpoClient {
  constructor(private readonly request: RequestFn = requestAPI) {}

  async listJobs(): Promise<IJobSummary[]> {
    return (await this.request<IJobsReply>('jobs')).jobs;
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

  async stopJob(name: string): Promise<IJobSummary> {
    return (await this.request<IJobReply>(`${jobPath(name)}/stop`, { method: 'POST' })).job;
  }

  async resumeJob(name: string): Promise<IJobSummary> {
    return (await this.request<IJobReply>(`${jobPath(name)}/resume`, { method: 'POST' }))
      .job;
  }
}

function jobPath(name: string): string {
  return `jobs/${encodeURIComponent(name)}`;
}
