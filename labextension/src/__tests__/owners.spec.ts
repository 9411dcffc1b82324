/** Whose a job is, the mine/all filter, the owner label and the stop/resume confirmation text. */
import { actionPrompt, filterJobs, isMine, ownerLabel } from '../owners';
import { IJobSummary, IOwner } from '../types';

function owner(name: string, host: string | null, over: Partial<IOwner> = {}): IOwner {
  return { user: name, host, jupyter: null, studio: null, name, ...over };
}

function job(name: string, who: IOwner | null): IJobSummary {
  return { name, owner: who } as IJobSummary; // only the fields the owner helpers read
}

describe('owners', () => {
  const me = owner('root', 'lab-host');
  const jobs = [
    job('mine', owner('root', 'lab-host')),
    job('mine-elsewhere', owner('root', 'other-host')),
    job('alices', owner('alice', 'alices-laptop')),
    job('before-owners', null),
    job('hub-bob', owner('bob', 'hub-node', { user: 'jovyan', jupyter: 'bob' }))
  ];

  it('counts a job as mine by its owner name (any host), or when no owner is recorded', () => {
    expect(jobs.filter(j => isMine(j, me)).map(j => j.name)).toEqual([
      'mine',
      'mine-elsewhere',
      'before-owners'
    ]);
    // on a Hub the name is the Hub user's, not the OS user's (every OS user is jovyan there)
    const bob = owner('bob', 'hub-node', { user: 'jovyan', jupyter: 'bob' });
    expect(jobs.filter(j => isMine(j, bob)).map(j => j.name)).toEqual(['before-owners', 'hub-bob']);
    // before the server has said who the user is, only ownerless jobs count as theirs
    expect(jobs.filter(j => isMine(j, null)).map(j => j.name)).toEqual(['before-owners']);
    // a summary without an owner field (an older server) is ownerless
    expect(isMine({ name: 'old' } as IJobSummary, me)).toBe(true);
  });

  it('filters only when mine-only is on, keeping the order', () => {
    expect(filterJobs(jobs, me, false)).toBe(jobs);
    expect(filterJobs(jobs, me, true).map(j => j.name)).toEqual([
      'mine',
      'mine-elsewhere',
      'before-owners'
    ]);
  });

  it('labels an owner name@host, like jupyter hpo list', () => {
    expect(ownerLabel(owner('alice', 'alices-laptop'))).toBe('alice@alices-laptop');
    expect(ownerLabel(owner('alice', null))).toBe('alice');
    expect(ownerLabel(null)).toBe('');
    expect(ownerLabel(undefined)).toBe('');
  });

  it("asks the usual question for one's own job, and names the owner of someone else's", () => {
    expect(actionPrompt('stop', 'sweep', null)).toEqual({
      title: 'Stop job',
      body: 'Stop the tuning job "sweep"? Its running trials are interrupted; they run again if you resume it.',
      label: 'Stop'
    });
    const stop = actionPrompt('stop', 'sweep', owner('alice', 'alices-laptop'));
    expect(stop.title).toBe("Stop alice's job");
    expect(stop.body).toContain('The tuning job "sweep" belongs to alice (launched on alices-laptop), not to you.');
    expect(stop.body).toContain('You are recorded as who stopped it.');
    expect(stop.label).toBe('Stop anyway');
    const resume = actionPrompt('resume', 'sweep', owner('alice', null));
    expect(resume.title).toBe("Resume alice's job");
    expect(resume.body).toContain('belongs to alice, not to you. Resume it anyway? It continues up to its budget.');
    expect(resume.label).toBe('Resume anyway');
  });
});
