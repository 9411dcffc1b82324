/** Campaigns in the job list: grouping, each group with the server's summary of its campaign. */
import { campaignActions, campaignPrompt, groupJobs, ICampaignGroup, unknownSummary } from '../campaigns';
import { IHpoClient } from '../client';
import { HpoModel, sortJobs } from '../model';
import { filterJobs } from '../owners';
import { ICampaignSummary, IJobsReply, IJobSummary, IOwner } from '../types';
import { jobSummary } from './fixtures';

function owner(name: string): IOwner {
  return { user: name, host: 'h', jupyter: null, studio: null, name };
}

const job = jobSummary;

function member(name: string, campaign: string, index: number, over: Partial<IJobSummary> = {}): IJobSummary {
  return job(name, { campaign: { name: campaign, index }, ...over });
}

/** A summary as the server sends it (`summarize_campaign`); `over` sets what a test looks at. */
function summary(name: string, over: Partial<ICampaignSummary> = {}): ICampaignSummary {
  return { ...unknownSummary(name), status: 'completed', metric: 'auc', direction: 'maximize', ...over };
}

const names = (entries: ReturnType<typeof groupJobs>) =>
  entries.map(e => (e.kind === 'job' ? e.job.name : `campaign ${e.name}: ${e.jobs.map(j => j.name).join(' ')}`));

describe('groupJobs', () => {
  it("lists a campaign's jobs together in campaign order, where its first job comes; other jobs as they are", () => {
    const jobs = sortJobs([
      job('plain-old', { created: 1 }),
      member('tune-0', 'tune', 0, { created: 10, status: 'completed' }),
      member('tune-1', 'tune', 1, { created: 10, status: 'running' }),
      job('plain-new', { created: 20 }),
      member('other-1', 'other', 1, { created: 5 }),
      member('other-0', 'other', 0, { created: 5 })
    ]);
    const campaigns = { tune: summary('tune', { status: 'running' }), other: summary('other') };
    expect(names(groupJobs(jobs, campaigns))).toEqual([
      'campaign tune: tune-0 tune-1', // its running job comes first in the display order
      'plain-new',
      'campaign other: other-0 other-1',
      'plain-old'
    ]);
  });

  it("shows the server's summary and status of each campaign, not figures of its own", () => {
    const tune = summary('tune', {
      status: 'stale', // its runner died: the jobs' own statuses below do not say so
      trials: 42
    });
    const other = summary('other', { status: 'failed', trials: 1 });
    const jobs = [
      member('tune-0', 'tune', 0, { status: 'completed', trials: 2 }),
      member('tune-1', 'tune', 1, { status: 'running', trials: 2 }),
      member('other-0', 'other', 0)
    ];
    const [first, second] = groupJobs(jobs, { tune, other }) as ICampaignGroup[];
    expect(first.summary).toBe(tune); // status 'stale' and 42 trials, where its jobs say running and 4
    expect(second.summary).toBe(other);
  });

  it('lists only the jobs the mine/all filter lets through, with the summary of the whole campaign', () => {
    const me = owner('me');
    const jobs = [
      member('mine-0', 'shared', 0, { owner: me }),
      member('alices-1', 'shared', 1, { owner: owner('alice'), trials: 7 }),
      member('alices-only', 'hers', 0, { owner: owner('alice') }),
      job('plain', { owner: me })
    ];
    const campaigns = { shared: summary('shared', { trials: 9 }), hers: summary('hers') };
    const mine = groupJobs(filterJobs(jobs, me, true), campaigns);
    expect(names(mine)).toEqual(['campaign shared: mine-0', 'plain']);
    expect((mine[0] as ICampaignGroup).summary.trials).toBe(9); // alice's job's trials too
    const all = groupJobs(filterJobs(jobs, me, false), campaigns);
    expect(names(all)).toEqual(['campaign shared: mine-0 alices-1', 'campaign hers: alices-only', 'plain']);
  });

  it('shows a campaign the server sent no summary of as pending, with nothing counted', () => {
    const jobs = [member('a-0', 'constructor', 0, { trials: 5 }), member('b-0', 'b', 0, { status: 'running' })];
    const [named, plain] = groupJobs(jobs, {}) as ICampaignGroup[];
    expect(named.summary).toEqual(unknownSummary('constructor')); // not Object's own `constructor`
    expect(plain.summary).toMatchObject({ status: 'pending', jobs: [], trials: 0, warm_share: null, best: null });
  });

  it('leaves a list without campaigns as it is', () => {
    const jobs = [job('a'), job('b')];
    expect(groupJobs(jobs, {})).toEqual([
      { kind: 'job', job: jobs[0] },
      { kind: 'job', job: jobs[1] }
    ]);
  });
});

describe('HpoModel.campaigns', () => {
  it('keeps the campaign summaries of the last GET jobs, and none from a server that sends none', async () => {
    const tune = summary('tune', { status: 'running', trials: 3 });
    const replies: IJobsReply[] = [
      { jobs: [member('tune-0', 'tune', 0)], campaigns: { tune }, me: owner('me') },
      { jobs: [member('tune-0', 'tune', 0)], me: owner('me') }
    ];
    const client = {
      listJobs: async () => replies.shift() as IJobsReply,
      getTrials: async () => []
    } as unknown as IHpoClient;
    const model = new HpoModel({ client });
    expect(model.campaigns).toEqual({});
    await model.refresh();
    expect(model.campaigns).toEqual({ tune });
    await model.refresh();
    expect(model.campaigns).toEqual({});
    model.dispose();
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
