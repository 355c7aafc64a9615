from hypothesis import given
from hypothesis import strategies as st

from bot.voting.rules import AGAINST, FOR, Outcome, Rules, Tally, at_deadline, board_net, early, progress_bar

RULES = Rules(quorum=3, majority=0.5)


def test_passes_with_quorum_and_majority():
    v = at_deadline(Tally(2, 1), RULES)
    assert v.outcome is Outcome.PASSED


def test_fails_on_quorum():
    v = at_deadline(Tally(2, 0), RULES)
    assert v.outcome is Outcome.FAILED and "quorum" in v.reason


def test_fails_on_majority():
    v = at_deadline(Tally(1, 3), RULES)
    assert v.outcome is Outcome.FAILED and "majority" in v.reason


def test_tie_fails():
    v = at_deadline(Tally(2, 2), RULES)
    assert v.outcome is Outcome.FAILED and "tie" in v.reason


def test_instant_pass():
    rules = Rules(quorum=3, majority=0.5, instant_pass=5)
    assert early(Tally(4, 0), rules, max_more_voters=None) is None
    v = early(Tally(5, 1), rules, max_more_voters=None)
    assert v is not None and v.outcome is Outcome.PASSED and v.early


def test_early_when_result_cannot_change():
    v = early(Tally(6, 0), RULES, max_more_voters=2)
    assert v is not None and v.outcome is Outcome.PASSED
    v = early(Tally(0, 6), RULES, max_more_voters=2)
    assert v is not None and v.outcome is Outcome.FAILED
    assert early(Tally(3, 2), RULES, max_more_voters=2) is None


@given(st.lists(st.sampled_from([FOR, AGAINST]), max_size=50), st.integers(0, 20),
       st.integers(1, 10), st.sampled_from([0.5, 0.6, 2 / 3]))
def test_early_verdict_agrees_with_every_possible_ending(ballots, more, quorum, majority):
    rules = Rules(quorum=quorum, majority=majority)
    t = Tally.of(ballots)
    v = early(t, rules, max_more_voters=more)
    if v is None:
        return
    for extra_for in range(more + 1):
        for extra_against in range(more + 1 - extra_for):
            final = at_deadline(Tally(t.votes_for + extra_for, t.votes_against + extra_against), rules)
            assert final.outcome is v.outcome


def test_board_net_and_bar():
    assert board_net(3, 1, 600, 300) == 1500
    assert progress_bar(1, 2, width=4) == "▰▰▱▱"
    assert progress_bar(5, 0, width=3) == "▱▱▱"


def test_a_vote_cancelled_by_the_bot_reads_as_one_sentence():
    from bot.outcomes import cancelled_text

    assert cancelled_text("This lock has ended on Chastify.") == "Cancelled: this lock has ended on Chastify."
    assert cancelled_text("the owner used the safeword") == "Cancelled: the owner used the safeword."
    assert cancelled_text("DEV token revoked.") == "Cancelled: DEV token revoked."


def test_a_task_text_is_shown_as_typed_never_as_markdown():
    from bot.actions import Action, ActionKind
    from bot.text import escape_markdown

    typed = "**bold** __under__ ~~strike~~ ||spoiler|| > quote [link](https://e.xample) `code`"
    task = Action(kind=ActionKind.TASK_ASSIGN, task_text=typed)
    assert task.summary() == f"task: {typed[:57]}..."  # the log title on Chastify stays plain
    assert "**" not in task.shown().replace("\\*", "") and "||" not in task.shown().replace("\\|", "")
    assert escape_markdown("a*b") == "a\\*b" and escape_markdown("plain words") == "plain words"
