"""Accessibility checked by axe-core (vendored, heard/vendor/axe-core) in the page's browser.

    from tests.accessibility import assert_accessible
    page.goto(f"{server}/console")
    assert_accessible(page, "rounds list")

checks the page as it is now (any state: an error shown, a form open) against the WCAG 2.0 and
2.1 A and AA rules and fails listing every serious or critical violation: its rule, what to do,
and the selector of each element at fault. axe.min.js is injected from the file, so the app
does not serve it and the page needs no network. assert_keyboard_usable(page, name) presses
Tab through the page: every link, button and field must be reached, its focus visible.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent.parent / "heard" / "vendor" / "axe-core" / "axe.min.js"
RULE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = ("serious", "critical")


def violations(page) -> list[dict]:
    """axe's serious and critical violations on the page as it stands."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']}).then(results => results.violations)", RULE_TAGS)
    return [violation for violation in found if violation["impact"] in FAILING]


def described(violation: dict) -> str:
    """One violation as a person fixing it needs it: rule, advice, where, why."""
    lines = [f"- {violation['id']} ({violation['impact']}): {violation['help']}"
             f" <{violation['helpUrl']}>"]
    for node in violation["nodes"]:
        where = " ".join(" >> ".join(part) if isinstance(part, list) else part
                         for part in node["target"])
        why = node.get("failureSummary", "").replace("\n", " ")
        lines.append(f"    {where}: {why}")
    return "\n".join(lines)


def accessibility_problems(page, name: str) -> str:
    """What axe-core finds wrong with the page as it stands, in words; empty if nothing."""
    found = violations(page)
    if not found:
        return ""
    return (f"{name} ({page.url}): {len(found)} serious or critical accessibility "
            "violation(s):\n" + "\n".join(described(v) for v in found))


def assert_accessible(page, name: str) -> None:
    """Fail if axe-core finds a serious or critical WCAG 2.x A/AA violation on `page`.

    `page` is a Playwright (sync) page already showing what is to be checked; `name` says which
    page it is in the failure message, which lists each rule broken, how to fix it and the
    selectors of the elements at fault. Call it after every navigation or state worth checking.
    """
    problems = accessibility_problems(page, name)
    assert not problems, problems


# Each element a person acts on, marked with its place in the page; what the focus is on, with
# whether its focus shows (an outline, or a ring drawn as a shadow).
ACTIONABLE = """() => [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]')]
  .filter(e => !e.disabled && e.tabIndex >= 0 && e.getClientRects().length
               && getComputedStyle(e).visibility !== 'hidden')
  .map((e, i) => { e.dataset.a11yStop = i; return (e.id ? '#' + e.id : e.tagName.toLowerCase())
                   + ' ' + (e.innerText || e.value || e.name || '').trim().slice(0, 40); })"""
FOCUSED = """() => { const e = document.activeElement, style = getComputedStyle(e);
  return {stop: e.dataset.a11yStop ?? null,
          shown: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
                 || style.boxShadow !== 'none'}; }"""


def keyboard_problems(page, name: str) -> str:
    """Whether Tab alone reaches every link, button and field, each showing it has the focus;
    what is wrong in words, empty if nothing."""
    actionable = page.evaluate(ACTIONABLE)
    reached: dict[str, bool] = {}
    for _ in range(2 * len(actionable) + 4):  # once round the page from anywhere, and then some
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["stop"] is not None:  # (a date field's parts are stops of their own, and
            # its calendar button draws its own ring: one visit with the outline is enough)
            reached[focused["stop"]] = reached.get(focused["stop"], False) or focused["shown"]
        if len(reached) == len(actionable):
            break
    missed = [what for stop, what in enumerate(actionable) if str(stop) not in reached]
    unseen = [actionable[int(stop)] for stop, shown in reached.items() if not shown]
    problems = ([f"    not reached by Tab: {what}" for what in missed]
                + [f"    no visible focus: {what}" for what in unseen])
    return f"{name} ({page.url}): keyboard:\n" + "\n".join(problems) if problems else ""


def assert_keyboard_usable(page, name: str) -> None:
    """Fail unless Tab reaches every action of `page` and the focus is visible on each."""
    problems = keyboard_problems(page, name)
    assert not problems, problems
