/** Campaigns in the job list: grouping, the campaign's status and its summary (as jupyter_hpo/campaign.py). */
import {
  campaignActions,
  campaignPrompt,
  campaignStatus,
  campaignSummary,
  groupJobs,
  ICampaignGroup
} from '../campaigns';
import { IHpoClient } from '../client';
import { HpoModel, sortJobs } from '../model';
import { filterJobs } from '../owners';
import { IJobSummary, IOwner, JobStatus } from '../types';

function owner(name: string): IOwner {
  return { user: name, host: 'h', jupyter: null, studio: null, name };
}

function job(name: string, over: Partial<IJobSummary> = {}): IJobSummary {
  return {
    name,
    status: 'completed',
    reason: '',
    backend: 'local',
    metric: 'auc',
    direction: 'maximize',
    max_trials: 10,
    trials: 0,
    complete: 0,
    pruned: 0,
    failed: 0,
    interrupted: 0,
    running: 0,
    best: null,
    objectives: [{ metric: 'auc', direction: 'maximize' }],
    pareto: null,
    seeded: 0,
    warm_starts: 0,
    cold_starts: 0,
    cold_startup_s: null,
    warm_startup_s: null,
    startup_saved_s: null,
    cost_usd: null,
    notes: [],
    created: 1000,
    ended: null,
    owner: null,
    stopped_by: null,
    resumed_by: null,
    campaign: null,
    nonfinite: {},
    ...over
  };
}

function member(name: string, campaign: string, index: number, over: Partial<IJobSummary> = {}): IJobSummary {
  return job(name, { campaign: { name: campaign, index }, ...over });
}

function best(number: number, value: number): IJobSummary['best'] {
  return { number, value, params: {} };
}

const statuses = (...s: JobStatus[]) => s.map((status, i) => job(`j${i}`, { status }));

describe('campaignStatus', () => {
  it('is running while any job runs, pends or stops', () => {
    expect(campaignStatus(statuses('completed', 'running'))).toBe('running');
    expect(campaignStatus(statuses('failed', 'pending'))).toBe('running');
    expect(campaignStatus(statuses('stopped', 'stopping'))).toBe('running');
  });

  it('is otherwise the worst of stale, failed and stopped, else completed', () => {
    expect(campaignStatus(statuses('stopped', 'failed', 'stale'))).toBe('stale');
    expect(campaignStatus(statuses('stopped', 'failed', 'completed'))).toBe('failed');
    expect(campaignStatus(statuses('completed', 'stopped'))).toBe('stopped');
    expect(campaignStatus(statuses('completed', 'completed'))).toBe('completed');
  });
});

describe('campaignSummary', () => {
  it('counts jobs done, trials and the warm share, and takes the best among jobs like the first', () => {
    const s = campaignSummary([
      member('a', 'c', 0, { trials: 4, warm_starts: 0, cold_starts: 2, best: best(3, 0.8) }),
      member('b', 'c', 1, { status: 'running', trials: 3, warm_starts: 2, cold_starts: 0, best: best(1, 0.9) }),
      // another metric: its larger value does not count
      member('other', 'c', 2, { status: 'failed', trials: 1, metric: 'loss', best: best(0, 5) }),
      // same metric, other direction: neither
      member('down', 'c', 3, { status: 'stopped', direction: 'minimize', best: best(0, 7) })
    ]);
    expect(s.jobs).toBe(4);
    expect(s.done).toBe(3); // completed, failed and stopped; not the running one
    expect(s.trials).toBe(8);
    expect([s.warmStarts, s.coldStarts, s.warmShare]).toEqual([2, 2, 0.5]);
    expect(s.best).toEqual({ job: 'b', number: 1, value: 0.9, metric: 'auc', direction: 'maximize' });
  });

  it('keeps the earlier job on a tie and ignores a non-finite best; minimizes when the first job does', () => {
    const tie = campaignSummary([
      member('a', 'c', 0, { direction: 'minimize', best: best(2, 0.5) }),
      member('b', 'c', 1, { direction: 'minimize', best: best(0, 0.5) }),
      member('n', 'c', 2, { direction: 'minimize', best: best(0, NaN) }),
      member('d', 'c', 3, { direction: 'minimize', best: null })
    ]);
    expect(tie.best).toMatchObject({ job: 'a', number: 2, value: 0.5 });
    const lower = campaignSummary([
      member('a', 'c', 0, { direction: 'minimize', best: best(2, 0.5) }),
      member('b', 'c', 1, { direction: 'minimize', best: best(4, 0.25) })
    ]);
    expect(lower.best).toMatchObject({ job: 'b', number: 4, value: 0.25 });
  });

  it("saves start-up against the campaign's mean cold start, so an all-warm later job counts", () => {
    const s = campaignSummary([
      member('a', 'c', 0, { cold_starts: 2, cold_startup_s: 3, warm_starts: 2, warm_startup_s: 1 }),
      // only warm starts: on its own it saves nothing measurable (startup_saved_s null)
      member('b', 'c', 1, { cold_starts: 0, warm_starts: 4, warm_startup_s: 0.5 })
    ]);
    // mean cold 3 s, mean warm (2 x 1 + 4 x 0.5) / 6 = 2/3 s; saved (3 - 2/3) x 6 warm starts = 14 s
    expect(s.startupSavedS).toBeCloseTo(14, 10);
    expect(campaignSummary([member('a', 'c', 0, { cold_starts: 3, cold_startup_s: 2 })]).startupSavedS).toBeNull();
    expect(campaignSummary([member('a', 'c', 0)]).warmShare).toBeNull();
  });

  it('sums the cost of the jobs that have one, and has none when no job has', () => {
    expect(
      campaignSummary([
        member('a', 'c', 0, { cost_usd: 0.25 }),
        member('b', 'c', 1, { cost_usd: null }),
        member('d', 'c', 2, { cost_usd: 1.5 })
      ]).costUsd
    ).toBeCloseTo(1.75, 10);
    expect(campaignSummary([member('a', 'c', 0), member('b', 'c', 1)]).costUsd).toBeNull();
  });
});

describe('groupJobs', () => {
  it("lists a campaign's jobs together in campaign order, where its first job comes; other jobs as they are", () => {
    const jobs = sortJobs([
      job('plain-old', { created: 1 }),
      member('tune-0', 'tune', 0, { created: 10, status: 'completed', trials: 3 }),
      member('tune-1', 'tune', 1, { created: 10, status: 'running', trials: 2 }),
      job('plain-new', { created: 20 }),
      member('other-1', 'other', 1, { created: 5 }),
      member('other-0', 'other', 0, { created: 5 })
    ]);
    const entries = groupJobs(jobs);
    expect(entries.map(e => (e.kind === 'job' ? e.job.name : `campaign ${e.name}`))).toEqual([
      'campaign tune', // its running job comes first in the display order
      'plain-new',
      'campaign other',
      'plain-old'
    ]);
    const tune = entries[0] as ICampaignGroup;
    expect(tune.jobs.map(j => j.name)).toEqual(['tune-0', 'tune-1']);
    expect(tune.status).toBe('running');
    expect([tune.summary.done, tune.summary.jobs, tune.summary.trials]).toEqual([1, 2, 5]);
    expect((entries[2] as ICampaignGroup).jobs.map(j => j.name)).toEqual(['other-0', 'other-1']);
    expect((entries[2] as ICampaignGroup).status).toBe('completed');
  });

  it('groups only the jobs the mine/all filter lets through', () => {
    const me = owner('me');
    const jobs = [
      member('mine-0', 'shared', 0, { owner: me }),
      member('alices-1', 'shared', 1, { owner: owner('alice'), trials: 7 }),
      member('alices-only', 'hers', 0, { owner: owner('alice') }),
      job('plain', { owner: me })
    ];
    const mine = groupJobs(filterJobs(jobs, me, true));
    expect(mine.map(e => (e.kind === 'job' ? e.job.name : e.jobs.map(j => j.name)))).toEqual([
      ['mine-0'],
      'plain'
    ]);
    const all = groupJobs(filterJobs(jobs, me, false));
    expect(all.map(e => (e.kind === 'job' ? e.job.name : e.jobs.map(j => j.name)))).toEqual([
      ['mine-0', 'alices-1'],
      ['alices-only'],
      'plain'
    ]);
    expect((all[0] as ICampaignGroup).summary.trials).toBe(7);
  });

  it('leaves a list without campaigns as it is', () => {
    const jobs = [job('a'), job('b')];
    expect(groupJobs(jobs)).toEqual([
      { kind: 'job', job: jobs[0] },
      { kind: 'job', job: jobs[1] }
    ]);
  });
});

describe('HpoModel.campaignOpen', () => {
  it('unfolds a campaign first listed running, folds one first listed ended, then keeps what the user set', () => {
    const model = new HpoModel({ client: {} as IHpoClient });
    let changes = 0;
    model.changed.connect(() => changes++);
    expect(model.campaignOpen('live', 'running')).toBe(true);
    expect(model.campaignOpen('live', 'completed')).toBe(true); // ended while in view: left unfolded
    expect(model.campaignOpen('old', 'completed')).toBe(false);
    expect(changes).toBe(0);
    model.setCampaignOpen('live', false);
    model.setCampaignOpen('old', true);
    expect([model.campaignOpen('live', 'running'), model.campaignOpen('old', 'failed')]).toEqual([false, true]);
    expect(changes).toBe(2);
    model.setCampaignOpen('old', true);
    expect(changes).toBe(2);
    model.dispose();
  });
});

describe('campaign stop and resume', () => {
  it('stops a running or stale campaign, resumes a stopped, failed or stale one', () => {
    expect(campaignActions('running')).toEqual({ stop: true, resume: false });
    expect(campaignActions('stale')).toEqual({ stop: true, resume: true });
    expect(campaignActions('stopped')).toEqual({ stop: false, resume: true });
    expect(campaignActions('failed')).toEqual({ stop: false, resume: true });
    expect(campaignActions('completed')).toEqual({ stop: false, resume: false });
  });

  it('asks the usual question for a campaign of ones own, and names the owners of other users\' jobs', () => {
    expect(campaignPrompt('stop', 'nightly', [])).toEqual({
      title: 'Stop campaign',
      body:
        'Stop the campaign "nightly"? Its running jobs stop (their running trials run again on resume) and ' +
        'its jobs not yet started are marked stopped.',
      label: 'Stop'
    });
    const alice = owner('alice');
    const prompt = campaignPrompt('resume', 'nightly', [alice, alice]);
    expect(prompt.title).toBe("Resume a campaign with other users' jobs");
    expect(prompt.body).toBe(
      'Jobs of the campaign "nightly" belong to alice@h, not to you. Resume it anyway? Its jobs that have not ' +
        'completed run again, in order.'
    );
    expect(prompt.label).toBe('Resume anyway');
  });
});
