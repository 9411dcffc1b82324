"""A campaign launched from a notebook (real JupyterLab 4, headless Chromium): ``%hpo campaign`` shows the
campaign as one group, its summary (jobs done, trials, warm share, start-up saved, best job and trial) followed
live to the end, above its jobs' best-so-far curves; each job's dashboard follows, and the second job's trial
table says which of its warm trials ran on a worker handed over from the first job."""

from __future__ import annotations

import nbformat
from playwright.sync_api import Page, expect

from jupyter_hpo.campaign import attach_campaign
from jupyter_hpo.store import Store
from tests.test_campaign import write_specs
from tests.ui.conftest import ARTIFACTS, Lab, notebook_url, run_all_cells, wait_kernel_idle


def test_a_campaign_shows_as_a_group_with_its_summary_and_handed_over_workers(lab: Lab, page: Page) -> None:
    write_specs(lab.root, ["nbview-1", "nbview-2"], trials=4, sleep=0.3)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_hpo"),
                nbformat.v4.new_code_cell("c = %hpo campaign nbview-1.yaml nbview-2.yaml --name nbview")]
    nbformat.write(nb, lab.root / "campaign.ipynb")
    page.goto(notebook_url(lab, "lab", "campaign.ipynb", "/lab/tree/campaign.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)

    group = page.locator(".jp-hpo-campaign")
    expect(group.locator("h4")).to_have_text("Campaign nbview: completed", timeout=180_000)
    summary = attach_campaign("nbview", Store(home=lab.home)).summary()
    assert summary["status"] == "completed" and summary["trials"] == 8, summary
    facts = group.locator("[data-testid=hpo-campaign-summary]")
    expect(facts.locator("[data-fact=jobs] dd")).to_have_text("2/2 done")
    expect(facts.locator("[data-fact=trials] dd")).to_have_text(f"8 ({summary['complete']} complete)")
    starts = summary["warm_starts"] + summary["cold_starts"]
    expect(facts.locator('[data-fact="warm starts"] dd')).to_have_text(
        f"{summary['warm_starts']}/{starts} ({round(100 * summary['warm_share'])}%)")
    best = summary["best"]
    expect(facts.locator("[data-fact=best] dd")).to_contain_text(f"job {best['job']}, trial {best['number']}")
    expect(facts.locator("[data-fact=cost]")).to_have_count(0)  # local jobs cost nothing to show
    # the campaign's jobs' curves, one legend entry per job, in order
    expect(page.locator(".jp-hpo-compare .hpo-compare-legend li strong")).to_have_text(["nbview-1", "nbview-2"])
    expect(page.locator(".jp-hpo-compare [data-testid=hpo-compare-note]")).to_be_hidden()  # one metric, one way

    # each job's dashboard; the second job's warm trials ran on workers handed over from the first
    dashes = page.locator(".jp-hpo-dashboard")
    expect(dashes).to_have_count(2, timeout=60_000)
    second = dashes.nth(1)
    expect(second.locator("h3")).to_have_text("nbview-2")
    records = [r for r in attach_campaign("nbview", Store(home=lab.home)).jobs[1].trial_records()]
    reused = [r for r in records if r.get("reused_from") == "nbview-1"]
    assert reused, records
    table = second.locator('[data-testid="hpo-trial-table"]')
    expect(table.locator(".hpo-reused")).to_have_count(len(reused), timeout=60_000)
    for r in reused:
        expect(table.locator(f'tr[data-number="{r["number"]}"] .hpo-reused')).to_have_text(" from nbview-1")
    # laid out as meant in an output area, whose own styles (a dl's dd floated at 80% of its width) outranked the
    # dashboard's: the facts in a row, each warm-pool figure beside its name
    assert facts.evaluate("dl => getComputedStyle(dl).display") == "flex"
    tops = facts.evaluate("dl => [...dl.children].map(k => Math.round(k.getBoundingClientRect().top))")
    assert len(tops) >= 4 and tops[0] == tops[1], tops
    warm = second.locator("[data-testid=hpo-warm-pool]")
    pairs = warm.evaluate("""dl => [...dl.querySelectorAll('dt')].map(dt => {
        const a = dt.getBoundingClientRect(), b = dt.nextElementSibling.getBoundingClientRect();
        return [Math.round(a.left), Math.round(a.top), Math.round(b.left), Math.round(b.top)]; })""")
    assert len(pairs) >= 5, pairs
    assert len({p[0] for p in pairs}) == 1 and len({p[2] for p in pairs}) == 1, pairs  # two columns
    assert all(p[1] == p[3] and p[2] > p[0] for p in pairs), pairs  # each value on its name's row, right of it
    weights = warm.evaluate("dl => [...dl.children].map(k => getComputedStyle(k).fontWeight)")
    assert set(weights[0::2]) == {"400"} and set(weights[1::2]) == {"600"}, weights  # names plain, figures bold
    group.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "campaign-view.png"))
    assert not page.console_errors, page.console_errors
