/**
 * The model against a fake client with canned answers: merging trials fetched with `after=`,
 * refreshing unfinished trials, the adaptive poll interval, pausing while hidden, 404 handling.
 */
import { IHpoClient } from '../client';
import { HpoApiError } from '../handler';
import {
  afterFor,
  bestSoFar,
  goneMessage,
  HpoModel,
  mergeTrials,
  NOT_ENABLED_MESSAGE,
  sortJobs
} from '../model';
import {
  IImportance,
  IJobReply,
  IJobsReply,
  IJobSummary,
  IOwner,
  ITrialRecord,
  JobStatus,
  TrialState
} from '../types';
import { jobSummary, trialRecord } from './fixtures';

function job(name: string, over: Partial<IJobSummary> = {}): IJobSummary {
  return jobSummary(name, { status: 'running', max_trials: 40, ...over });
}

function owner(name: string, host: string): IOwner {
  return { user: name, host, jupyter: null, studio: null, name };
}

function trial(number: number, state: TrialState, value: number | null = null): ITrialRecord {
  return trialRecord(number, {
    state,
    value,
    params: { x: number / 10 },
    warm: number > 0,
    completed: state === 'running' ? null : 2
  });
}

/** A server in memory: jobs and their trials, and a log of every request. */
class FakeClient implements IHpoClient {
  jobs: IJobSummary[] = [];
  me: IOwner = owner('root', 'lab-host');
  trials = new Map<string, ITrialRecord[]>();
  /** what `GET jobs/{name}` answers as the job's importance (null when absent) */
  importance = new Map<string, IImportance>();
  calls: string[] = [];
  listError: Error | null = null;

  setTrials(name: string, records: ITrialRecord[]): void {
    this.trials.set(name, records);
    const j = this.jobs.find(x => x.name === name)!;
    j.trials = records.length;
    j.running = records.filter(r => r.state === 'running').length;
    j.complete = records.filter(r => r.state === 'complete').length;
  }

  async listJobs(): Promise<IJobsReply> {
    this.calls.push('jobs');
    if (this.listError) {
      throw this.listError;
    }
    return { jobs: this.jobs.map(j => ({ ...j })), me: { ...this.me } };
  }

  async getJob(name: string): Promise<IJobReply> {
    this.calls.push(`job ${name}`);
    const j = this.jobs.find(x => x.name === name);
    if (!j) {
      throw new HpoApiError(404, `no job named '${name}'`);
    }
    return {
      job: { ...j },
      spec: { space: { x: { type: 'float', low: 0, high: 1 } } },
      provenance: {},
      importance: this.importance.get(name) ?? null
    };
  }

  async getTrials(name: string, after: number): Promise<ITrialRecord[]> {
    this.calls.push(`trials ${name} after=${after}`);
    return (this.trials.get(name) ?? []).filter(t => t.number > after).map(t => ({ ...t }));
  }

  async stopJob(name: string, force = false): Promise<IJobSummary> {
    this.calls.push(`stop ${name}${force ? ' force' : ''}`);
    const j = this.jobs.find(x => x.name === name)!;
    if (!force && j.owner && j.owner.name !== this.me.name) {
      throw new HpoApiError(409, `job '${name}' belongs to ${j.owner.name}`);
    }
    if (j.status !== 'running') {
      throw new HpoApiError(409, `job '${name}' is already ${j.status}.`);
    }
    j.status = 'stopping';
    return { ...j };
  }

  async resumeJob(name: string, force = false): Promise<IJobSummary> {
    this.calls.push(`resume ${name}${force ? ' force' : ''}`);
    const j = this.jobs.find(x => x.name === name)!;
    j.status = 'pending';
    return { ...j };
  }

  take(): string[] {
    const c = this.calls;
    this.calls = [];
    return c;
  }
}

function setStatus(client: FakeClient, name: string, status: JobStatus): void {
  client.jobs.find(j => j.name === name)!.status = status;
}

describe('pure helpers', () => {
  it('asks after the largest number, or just below the smallest unfinished trial', () => {
    expect(afterFor([])).toBe(-1);
    expect(afterFor([trial(0, 'complete', 1), trial(1, 'complete', 2)])).toBe(1);
    expect(
      afterFor([trial(0, 'complete', 1), trial(1, 'running'), trial(2, 'complete', 3), trial(3, 'running')])
    ).toBe(0);
  });

  it('merges fresh records over held ones by number, in order', () => {
    const held = [trial(0, 'complete', 1), trial(1, 'running'), trial(2, 'running')];
    const merged = mergeTrials(held, [trial(2, 'complete', 5), trial(1, 'pruned'), trial(3, 'running')]);
    expect(merged.map(t => [t.number, t.state])).toEqual([
      [0, 'complete'],
      [1, 'pruned'],
      [2, 'complete'],
      [3, 'running']
    ]);
    expect(mergeTrials(held, [])).toBe(held);
  });

  it('computes the best value so far in either direction, skipping unfinished trials', () => {
    const records = [
      trial(0, 'complete', 0.5),
      trial(1, 'running'),
      trial(2, 'complete', 0.3),
      trial(3, 'fail'),
      trial(4, 'complete', 0.7)
    ];
    expect(bestSoFar(records, 'maximize')).toEqual([
      { number: 0, value: 0.5 },
      { number: 2, value: 0.5 },
      { number: 4, value: 0.7 }
    ]);
    expect(bestSoFar(records, 'minimize').map(p => p.value)).toEqual([0.5, 0.3, 0.3]);
  });

  it('sorts running jobs first, then newest first', () => {
    const jobs = [
      job('old-done', { status: 'completed', created: 1 }),
      job('new-done', { status: 'stopped', created: 3 }),
      job('live', { status: 'running', created: 0 }),
      job('queued', { status: 'pending', created: 5 })
    ];
    expect(sortJobs(jobs).map(j => j.name)).toEqual(['live', 'queued', 'new-done', 'old-done']);
  });
});

describe('HpoModel', () => {
  let client: FakeClient;
  let model: HpoModel;

  beforeEach(() => {
    jest.useFakeTimers();
    client = new FakeClient();
    model = new HpoModel({ client, activeInterval: 1000, firstIdleInterval: 2000, idleInterval: 10000 });
  });

  afterEach(() => {
    model.dispose();
    jest.useRealTimers();
  });

  it('does not poll until shown, then lists jobs and fetches their trials', async () => {
    client.jobs = [job('a')];
    client.setTrials('a', [trial(0, 'complete', 0.5), trial(1, 'complete', 0.6)]);
    await jest.advanceTimersByTimeAsync(30000);
    expect(client.calls).toEqual([]);
    expect(model.state).toBe('loading');

    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(client.take()).toEqual(['jobs', 'trials a after=-1']);
    expect(model.state).toBe('ready');
    expect(model.jobs.map(j => j.name)).toEqual(['a']);
    expect(model.trials('a').map(t => t.number)).toEqual([0, 1]);
  });

  it('appends new trials with after=N and re-requests from the smallest unfinished one', async () => {
    client.jobs = [job('a')];
    client.setTrials('a', [trial(0, 'complete', 0.5), trial(1, 'running'), trial(2, 'complete', 0.4)]);
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(client.take()).toEqual(['jobs', 'trials a after=-1']);

    // trial 1 finishes, 3 and 4 arrive (4 still running)
    client.setTrials('a', [
      trial(0, 'complete', 0.5),
      trial(1, 'complete', 0.9),
      trial(2, 'complete', 0.4),
      trial(3, 'complete', 0.1),
      trial(4, 'running')
    ]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(client.take()).toEqual(['jobs', 'trials a after=0']);
    expect(model.trials('a').map(t => `${t.number}:${t.state}`)).toEqual([
      '0:complete',
      '1:complete',
      '2:complete',
      '3:complete',
      '4:running'
    ]);
    expect(bestSoFar(model.trials('a'), 'maximize').pop()).toEqual({ number: 3, value: 0.9 });

    await jest.advanceTimersByTimeAsync(1000);
    expect(client.take()).toEqual(['jobs', 'trials a after=3']);
  });

  it('fetches trials of finished jobs once, and again only when their count changes', async () => {
    client.jobs = [job('done', { status: 'completed' }), job('live', { status: 'running' })];
    client.setTrials('done', [trial(0, 'complete', 1)]);
    client.setTrials('live', [trial(0, 'running')]);
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(client.take().sort()).toEqual(['jobs', 'trials done after=-1', 'trials live after=-1']);

    await jest.advanceTimersByTimeAsync(1000);
    expect(client.take()).toEqual(['jobs', 'trials live after=-1']);

    // resumed elsewhere with one more trial: its count no longer matches what is held
    client.setTrials('done', [trial(0, 'complete', 1), trial(1, 'complete', 2)]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(client.take().sort()).toEqual(['jobs', 'trials done after=0', 'trials live after=-1']);
    expect(model.trials('done')).toHaveLength(2);
  });

  it('polls every second while a job runs and backs off to 10 s once all are idle', async () => {
    client.jobs = [job('a')];
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(model.interval).toBe(1000);
    client.take();

    await jest.advanceTimersByTimeAsync(3000);
    expect(client.take().filter(c => c === 'jobs')).toHaveLength(3);

    setStatus(client, 'a', 'completed');
    await jest.advanceTimersByTimeAsync(1000); // sees it completed
    const intervals = [model.interval];
    for (let i = 0; i < 5; i++) {
      await jest.advanceTimersByTimeAsync(model.interval);
      intervals.push(model.interval);
    }
    expect(intervals).toEqual([2000, 4000, 8000, 10000, 10000, 10000]);

    // idle: only a few polls in a minute
    client.take();
    await jest.advanceTimersByTimeAsync(60000);
    expect(client.take().filter(c => c === 'jobs')).toHaveLength(6);

    // a job starts: back to 1 s after the next poll sees it
    client.jobs.push(job('b', { created: 2000 }));
    await jest.advanceTimersByTimeAsync(10000);
    expect(model.interval).toBe(1000);
    expect(model.jobs.map(j => j.name)).toEqual(['b', 'a']);
  });

  it('pauses while hidden and polls at once when shown again', async () => {
    client.jobs = [job('a')];
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    client.take();

    model.setVisible(false);
    expect(model.polling).toBe(false);
    await jest.advanceTimersByTimeAsync(60000);
    expect(client.take()).toEqual([]);

    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(client.take()).toContain('jobs');
    expect(model.polling).toBe(true);
  });

  it('hidden while a poll is in flight: that poll finishes, no next one is scheduled', async () => {
    client.jobs = [job('a')];
    let release: () => void = () => undefined;
    const gate = new Promise<void>(resolve => (release = resolve));
    const list = client.listJobs.bind(client);
    client.listJobs = async () => {
      await gate;
      return list();
    };
    model.setVisible(true);
    model.setVisible(false);
    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(model.state).toBe('ready');
    expect(model.polling).toBe(false);
    client.take();
    await jest.advanceTimersByTimeAsync(30000);
    expect(client.take()).toEqual([]);
  });

  it('shows "not enabled" on a 404 from GET jobs, and polls slowly', async () => {
    client.listError = new HpoApiError(404, 'Not Found');
    const changes: string[] = [];
    model.changed.connect(() => changes.push(model.state));
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(model.state).toBe('not-enabled');
    expect(model.error).toBe(NOT_ENABLED_MESSAGE);
    expect(NOT_ENABLED_MESSAGE).toContain('jupyter server extension enable jupyter_hpo');
    expect(changes).toContain('not-enabled');
    expect(model.interval).toBe(10000);

    // enabled after a server restart: the list comes back
    client.listError = null;
    client.jobs = [job('a', { status: 'completed' })];
    await jest.advanceTimersByTimeAsync(10000);
    expect(model.state).toBe('ready');
    expect(model.error).toBeNull();
  });

  it('keeps the jobs it has and reports other errors inline, backing off', async () => {
    client.jobs = [job('a')];
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    client.listError = new HpoApiError(503, 'the store is locked');
    await jest.advanceTimersByTimeAsync(1000);
    expect(model.state).toBe('error');
    expect(model.error).toBe('Could not load tuning jobs: the store is locked');
    expect(model.jobs.map(j => j.name)).toEqual(['a']);
    expect(model.interval).toBe(2000);
    client.listError = new HpoApiError(0, 'cannot reach the Jupyter server');
    await jest.advanceTimersByTimeAsync(2000);
    expect(model.interval).toBe(4000);
  });

  it('selects a job: fetches its spec and polls at once', async () => {
    client.jobs = [job('a', { status: 'completed' })];
    client.setTrials('a', [trial(0, 'complete', 0.5)]);
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    await jest.advanceTimersByTimeAsync(2000);
    expect(model.interval).toBe(4000);
    client.take();

    model.select('a');
    await jest.advanceTimersByTimeAsync(0);
    expect(client.take()).toEqual(['job a', 'jobs']);
    expect(model.selected).toBe('a');
    expect(model.selectedJob?.name).toBe('a');
    expect(model.spec).toEqual({ space: { x: { type: 'float', low: 0, high: 1 } } });
    expect(model.trials('a')).toHaveLength(1);

    model.select(null);
    expect(model.selectedJob).toBeNull();
    expect(model.spec).toBeNull();
  });

  it('shows the selected job\'s importance, fetched again once more trials have finished', async () => {
    const complete = (n: number) => Array.from({ length: n }, (_, i) => trial(i, 'complete', i / 10));
    client.jobs = [job('a', { status: 'running' })];
    client.setTrials('a', complete(3));
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    model.select('a');
    await jest.advanceTimersByTimeAsync(0);
    expect(model.importance).toBeNull();
    client.take();

    await jest.advanceTimersByTimeAsync(1000); // no trial finished since: the detail is not asked again
    expect(client.take()).toEqual(['jobs', 'trials a after=2']);

    const found = { shares: { x: 0.7, y: 0.3 }, note: 'From 5 complete trials.' };
    client.importance.set('a', found);
    client.setTrials('a', complete(5));
    await jest.advanceTimersByTimeAsync(1000);
    expect(client.take()).toContain('job a');
    expect(model.importance).toEqual(found);
    expect(model.spec).toEqual({ space: { x: { type: 'float', low: 0, high: 1 } } });

    setStatus(client, 'a', 'completed'); // the status changed: asked again once
    await jest.advanceTimersByTimeAsync(1000);
    expect(client.take().filter(c => c === 'job a')).toEqual(['job a']);
    await jest.advanceTimersByTimeAsync(10000);
    expect(client.take()).not.toContain('job a');

    model.select(null);
    expect(model.importance).toBeNull();
  });

  it('stops a job: shows the server summary, polls quickly, and reports a 409 inline', async () => {
    client.jobs = [job('a')];
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);

    const done = model.stop('a');
    expect(model.isBusy('a')).toBe(true);
    expect(await done).toBe(true);
    expect(model.isBusy('a')).toBe(false);
    expect(model.job('a')?.status).toBe('stopping');
    expect(model.interval).toBe(1000);

    setStatus(client, 'a', 'stopped');
    await jest.advanceTimersByTimeAsync(1000);
    expect(model.job('a')?.status).toBe('stopped');

    expect(await model.stop('a')).toBe(false);
    expect(model.actionError('a')).toBe("job 'a' is already stopped.");

    expect(await model.resume('a')).toBe(true);
    expect(model.actionError('a')).toBeNull();
    expect(model.job('a')?.status).toBe('pending');
  });

  it('drops the trials of a job that disappeared and reports a failed trials request', async () => {
    client.jobs = [job('a', { status: 'completed' }), job('b', { status: 'running' })];
    client.setTrials('a', [trial(0, 'complete', 1)]);
    client.setTrials('b', [trial(0, 'running')]);
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(model.trials('a')).toHaveLength(1);

    client.jobs = client.jobs.filter(j => j.name !== 'a');
    client.getTrials = async () => {
      throw new HpoApiError(503, 'database is locked');
    };
    model.select('b');
    await jest.advanceTimersByTimeAsync(0);
    expect(model.trials('a')).toHaveLength(0);
    expect(model.detailError).toBe('Could not load the trials: database is locked');
  });

  it('says a selected job that left the job list no longer exists, and offers nothing of it as current', async () => {
    client.jobs = [job('a', { status: 'running' })];
    client.setTrials('a', [trial(0, 'complete', 0.5), trial(1, 'running')]);
    model.setVisible(true);
    model.select('a');
    await jest.advanceTimersByTimeAsync(0);
    expect(model.selectedJob?.status).toBe('running');
    expect(model.spec).not.toBeNull();

    // deleted from the store; the server answers its detail and trials with 500s (not a 404)
    client.jobs = [];
    client.getJob = async () => {
      throw new HpoApiError(500, 'Internal Server Error');
    };
    client.getTrials = async () => {
      throw new HpoApiError(500, 'Internal Server Error');
    };
    await jest.advanceTimersByTimeAsync(10000);
    expect(model.detailError).toBe(goneMessage('a'));
    expect(goneMessage('a')).toMatch(/^Job a no longer exists/);
    expect(model.selectedJob).toBeNull(); // so no status, best trial, Stop or Resume is shown for it
    expect(model.spec).toBeNull();
    expect(model.trials('a')).toEqual([]);
    await jest.advanceTimersByTimeAsync(30000);
    expect(model.detailError).toBe(goneMessage('a')); // and it stays so

    // a job of the same name is created again: it is shown, with its own detail
    client.getJob = FakeClient.prototype.getJob;
    client.getTrials = FakeClient.prototype.getTrials;
    client.jobs = [job('a', { status: 'completed' })];
    client.setTrials('a', [trial(0, 'complete', 0.7)]);
    client.take();
    await model.refresh();
    await jest.advanceTimersByTimeAsync(0);
    expect(client.take()).toContain('job a');
    expect(model.detailError).toBeNull();
    expect(model.selectedJob?.status).toBe('completed');
    expect(model.trials('a').map(t => t.value)).toEqual([0.7]);
  });

  it('shows a job deleted and made again between two polls as the new job, none of the old one kept', async () => {
    client.jobs = [job('a', { status: 'completed', created: 1000 })];
    client.setTrials('a', [trial(0, 'complete', 0.5), trial(1, 'complete', 0.25)]);
    model.setVisible(true);
    model.select('a');
    await jest.advanceTimersByTimeAsync(0);
    expect(model.trials('a').map(t => t.value)).toEqual([0.5, 0.25]);
    expect(model.selectedJob?.created).toBe(1000);

    // another process deletes it and launches a job of the same name, which has more trials by the next poll
    client.jobs = [job('a', { status: 'running', created: 2000 })];
    client.setTrials('a', [trial(0, 'complete', 0.1), trial(1, 'complete', 0.2), trial(2, 'running')]);
    client.take();
    await jest.advanceTimersByTimeAsync(10000);
    expect(client.take()).toEqual(expect.arrayContaining(['trials a after=-1', 'job a']));
    expect(model.trials('a').map(t => t.value)).toEqual([0.1, 0.2, null]);
    expect(model.selectedJob?.created).toBe(2000);
  });

  it('takes a 404 for the detail of an unlisted job as gone, but not for a listed one', async () => {
    client.jobs = [job('listed')];
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    model.select('never-listed');
    await jest.advanceTimersByTimeAsync(0);
    expect(model.detailError).toBe(goneMessage('never-listed'));

    client.getJob = async name => {
      throw new HpoApiError(404, `no route for ${name}`); // e.g. a name the REST routes do not take
    };
    model.select('listed');
    await jest.advanceTimersByTimeAsync(0);
    expect(model.detailError).toBe('no route for listed');
    expect(model.selectedJob?.name).toBe('listed');
  });

  it('stops polling for good once disposed', async () => {
    client.jobs = [job('a')];
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    model.dispose();
    client.take();
    await jest.advanceTimersByTimeAsync(30000);
    expect(client.take()).toEqual([]);
    model.setVisible(true);
    expect(model.polling).toBe(false);
  });
});

describe('HpoModel owners', () => {
  let client: FakeClient;
  let model: HpoModel;

  beforeEach(() => {
    jest.useFakeTimers();
    client = new FakeClient();
    model = new HpoModel({ client, activeInterval: 1000, firstIdleInterval: 2000, idleInterval: 10000 });
    client.jobs = [
      job('mine', { owner: owner('root', 'lab-host') }),
      job('alices', { owner: owner('alice', 'alices-laptop'), created: 2000 }),
      job('before-owners', { owner: null, created: 500 })
    ];
  });

  afterEach(() => {
    model.dispose();
    jest.useRealTimers();
  });

  it('shows all jobs by default, and only the user\'s own (and ownerless ones) when asked', async () => {
    const changes: boolean[] = [];
    model.changed.connect(() => changes.push(model.mineOnly));
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(model.me).toEqual(owner('root', 'lab-host'));
    expect(model.mineOnly).toBe(false);
    expect(model.visibleJobs.map(j => j.name)).toEqual(['alices', 'mine', 'before-owners']);
    model.setMineOnly(true);
    expect(changes[changes.length - 1]).toBe(true);
    expect(model.visibleJobs.map(j => j.name)).toEqual(['mine', 'before-owners']);
    expect(model.jobs.map(j => j.name)).toEqual(['alices', 'mine', 'before-owners']);
    // the filter holds across polls, with the jobs the server lists then
    client.jobs.push(job('alices-2', { owner: owner('alice', 'alices-laptop') }));
    client.jobs.push(job('mine-2', { owner: owner('root', 'another-host') }));
    await model.refresh();
    expect(model.visibleJobs.map(j => j.name).sort()).toEqual(['before-owners', 'mine', 'mine-2']);
    model.setMineOnly(false);
    expect(model.visibleJobs).toHaveLength(5);
  });

  it('names the owner of another user\'s job only, and stops it with force', async () => {
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(model.otherOwner('alices')).toEqual(owner('alice', 'alices-laptop'));
    expect(model.otherOwner('mine')).toBeNull();
    expect(model.otherOwner('before-owners')).toBeNull();
    expect(model.otherOwner('no-such-job')).toBeNull();
    client.take();
    expect(await model.stop('alices')).toBe(false);
    expect(model.actionError('alices')).toBe("job 'alices' belongs to alice");
    expect(await model.stop('alices', true)).toBe(true);
    expect(model.actionError('alices')).toBeNull();
    expect(client.take().filter(c => c.startsWith('stop'))).toEqual(['stop alices', 'stop alices force']);
  });

  it('shows the server\'s refusal of another user\'s job as the action error', async () => {
    client.stopJob = async () => {
      throw new HpoApiError(403, "this server does not let anyone stop another user's job");
    };
    model.setVisible(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(await model.stop('alices', true)).toBe(false);
    expect(model.actionError('alices')).toBe("this server does not let anyone stop another user's job");
    expect(model.isBusy('alices')).toBe(false);
  });
});
