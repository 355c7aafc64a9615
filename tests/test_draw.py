"""The verifiable draw of a wheel vote (``bot/voting/draw.py``): known answers checked against a tiny independent
re-implementation of the documented algorithm, the plurality tie, nobody voted, bad input, the frequencies of the
wheel over many seeds, and ``python -m bot verify-draw``."""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.__main__ import main
from bot.voting.draw import (
    MODES,
    Draw,
    check_seed,
    commitment,
    draw,
    format_draw,
    new_seed,
    parse_tally,
    uniform,
)

REPO = Path(__file__).resolve().parents[1]

# --- a reference implementation of the module docstring, written from the text, not from the code -----------------


def ref_uniform(seed: str, n: int) -> int:
    limit = 2**64 - 2**64 % n
    counter = 0
    while True:
        block = hmac.new(seed.encode("ascii"), b"draw" + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        if (x := int.from_bytes(block[:8], "big")) < limit:
            return x % n
        counter += 1


def ref_draw(seed: str, tally: list[int], mode: str) -> tuple[int | None, int | None]:
    """(winner index, ticket) as the docstring defines them."""
    if sum(tally) == 0:
        return None, None
    if mode == "wheel":
        ticket = ref_uniform(seed, sum(tally))
        return next(i for i in range(len(tally)) if ticket < sum(tally[: i + 1])), ticket
    leaders = [i for i, c in enumerate(tally) if c == max(tally)]
    if len(leaders) == 1:
        return leaders[0], None
    ticket = ref_uniform(seed, len(leaders))
    return leaders[ticket], ticket


def first_block(seed: str) -> str:
    return hmac.new(seed.encode("ascii"), b"draw" + bytes(8), hashlib.sha256).digest()[:8].hex()


seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)
tallies = st.lists(st.integers(0, 4), min_size=2, max_size=6)  # small counts: ties and zeros are common

# --- known answers ------------------------------------------------------------------------------------------------

ZEROS = "0" * 64
COUNTING = "0123456789abcdef" * 4
EFFS = "f" * 64

# (seed, tally, mode, the first 8 bytes of HMAC(seed, b"draw" + 8 zero bytes), ticket, winner index), computed
# once; a member can check the first one by hand: 0x67e2de4a5adf3399 % 9 == 5, and tickets 5-7 are option 2's
KNOWN = [
    (ZEROS, [5, 3, 1], "wheel", "67e2de4a5adf3399", 5, 1),
    (COUNTING, [1, 2, 3, 4, 5, 6], "wheel", "812f828331514eec", 20, 5),
    (EFFS, [7, 0, 7, 2, 7], "plurality", "edc15651d188bbac", 2, 4),
    (COUNTING, [10, 10], "plurality", "812f828331514eec", 0, 0),
]


@pytest.mark.parametrize(("seed", "tally", "mode", "block", "ticket", "winner"), KNOWN)
def test_known_answers_agree_with_the_documented_algorithm(seed: str, tally: list[int], mode: str, block: str,
                                                           ticket: int, winner: int) -> None:
    assert first_block(seed) == block
    assert ref_draw(seed, tally, mode) == (winner, ticket)  # the documented algorithm gives the hard-coded answer
    d = draw(seed, tally, mode)  # type: ignore[arg-type]
    assert (d.winner, d.ticket) == (winner, ticket)  # and so does the implementation
    assert d.out_of == (sum(tally) if mode == "wheel" else tally.count(max(tally)))


def test_the_first_known_answer_by_hand() -> None:
    assert int("67e2de4a5adf3399", 16) % 9 == 5
    d = draw(ZEROS, [5, 3, 1], "wheel")
    assert format_draw(d) == f"wheel draw: ticket 5 of 9 → option 2 (tally 5,3,1; seed {ZEROS})"


@settings(max_examples=200, deadline=None)
@given(seeds, tallies, st.sampled_from(MODES))
def test_draw_is_the_documented_algorithm(seed: str, tally: list[int], mode: str) -> None:
    d = draw(seed, tally, mode)  # type: ignore[arg-type]
    assert (d.winner, d.ticket) == ref_draw(seed, tally, mode)
    assert d == draw(seed, tally, mode)  # type: ignore[arg-type]  # deterministic
    assert d.seed == seed and d.tally == tuple(tally) and d.mode == mode
    if d.winner is not None:
        assert d.winner in d.candidates and tally[d.winner] > 0
    if d.ticket is not None:
        assert d.out_of is not None and 0 <= d.ticket < d.out_of


def test_rejection_sampling_skips_a_block_beyond_the_last_whole_multiple() -> None:
    """With n = 2**63 + 1 about half the blocks are rejected, so the loop past counter 0 runs and must agree."""
    n = 2**63 + 1
    limit = 2**64 - 2**64 % n
    rejected = [s for s in (hashlib.sha256(str(i).encode()).hexdigest() for i in range(50))
                if int(first_block(s), 16) >= limit]
    assert rejected
    for seed in rejected:
        assert uniform(seed, n) == ref_uniform(seed, n)
        assert uniform(seed, n) != int(first_block(seed), 16) % n  # the first block was not used
    assert uniform(ZEROS, 1) == 0


@pytest.mark.parametrize("n", [0, -1, 2**64 + 1, True, 1.5])
def test_uniform_refuses_an_impossible_range(n: object) -> None:
    with pytest.raises(ValueError, match="range of 1 to 2\\*\\*64"):
        uniform(ZEROS, n)  # type: ignore[arg-type]


# --- plurality: ties, a single leader; nobody voted --------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(seeds, tallies.filter(lambda t: t.count(max(t)) > 1 and max(t) > 0))
def test_a_plurality_tie_is_drawn_among_the_tied_only(seed: str, tally: list[int]) -> None:
    tied = tuple(i for i, c in enumerate(tally) if c == max(tally))
    d = draw(seed, tally, "plurality")
    assert d.candidates == tied
    assert d.winner in tied
    assert d.out_of == len(tied) and d.ticket is not None and d.winner == tied[d.ticket]
    assert format_draw(d).startswith(f"plurality tie between options {', '.join(str(i + 1) for i in tied)} drawn:")


@settings(max_examples=100, deadline=None)
@given(seeds, tallies.filter(lambda t: t.count(max(t)) == 1))
def test_a_single_leader_wins_without_a_draw(seed: str, tally: list[int]) -> None:
    d = draw(seed, tally, "plurality")
    assert d.winner == tally.index(max(tally))
    assert d.candidates == (d.winner,)
    assert d.ticket is None and d.out_of is None
    assert format_draw(d) == (f"plurality: option {d.winner + 1} has the most votes, no draw "
                              f"(tally {','.join(map(str, tally))}; seed {seed})")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tally", [[0, 0], [0, 0, 0, 0, 0, 0]])
def test_nobody_voted_means_no_winner_and_nothing_applied(mode: str, tally: list[int]) -> None:
    d = draw(EFFS, tally, mode)  # type: ignore[arg-type]
    assert d == Draw(None, mode, EFFS, tuple(tally), ())  # type: ignore[arg-type]
    assert format_draw(d) == f"{mode}: nobody voted, nothing applied (tally {','.join(map(str, tally))}; seed {EFFS})"


def test_an_option_without_votes_is_never_on_the_wheel() -> None:
    for i in range(200):
        d = draw(hashlib.sha256(str(i).encode()).hexdigest(), [0, 2, 0, 1], "wheel")
        assert d.candidates == (1, 3) and d.winner in (1, 3)
    assert draw(EFFS, [0, 1], "wheel").winner == 1


# --- seeds and commitments ----------------------------------------------------------------------------------------


def test_a_new_seed_is_64_lowercase_hex_and_fresh() -> None:
    a, b = new_seed(), new_seed()
    assert a != b
    for s in (a, b):
        assert len(s) == 64 and set(s) <= set("0123456789abcdef")
        assert check_seed(s) == s


def test_the_commitment_is_sha256_of_the_seed_text() -> None:
    assert commitment(ZEROS) == hashlib.sha256(b"0" * 64).hexdigest()
    assert commitment(COUNTING) == hashlib.sha256(COUNTING.encode("ascii")).hexdigest()
    # upper case and surrounding spaces are normalised first: the same seed, the same commitment and draw
    assert commitment(f"  {COUNTING.upper()}\n") == commitment(COUNTING)
    assert draw(COUNTING.upper(), [1, 2, 3], "wheel") == draw(COUNTING, [1, 2, 3], "wheel")


@pytest.mark.parametrize(("seed", "words"), [
    ("abc", "it has 3 characters"),
    ("0" * 63, "it has 63 characters"),
    ("0" * 65, "it has 65 characters"),
    ("g" * 64, "characters other than 0-9, a-f"),
    ("0" * 62 + " 0", "characters other than 0-9, a-f"),
    ("", "it has 0 characters"),
    (b"0" * 64, "must be text"),
    (None, "must be text"),
])
def test_a_bad_seed_is_refused_saying_what_is_accepted(seed: object, words: str) -> None:
    for call in (commitment, check_seed, lambda s: draw(s, [1, 1], "wheel")):
        with pytest.raises(ValueError, match="64 hex characters") as err:
            call(seed)  # type: ignore[operator]
        assert words in str(err.value)


# --- tallies -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tally", "words"), [
    ([], "2 to 6 options, not 0"),
    ([3], "2 to 6 options, not 1"),
    ([1] * 7, "2 to 6 options, not 7"),
    ([1, -1], "option 2's count must be a whole number of votes >= 0, not -1"),
    ([1, 2.0], "option 2's count"),
    ([True, 1], "option 1's count"),
    ("53", "list of 2 to 6 vote counts"),
    (None, "list of 2 to 6 vote counts"),
])
def test_a_bad_tally_is_refused_saying_what_is_accepted(tally: object, words: str) -> None:
    with pytest.raises(ValueError) as err:
        draw(ZEROS, tally, "wheel")  # type: ignore[arg-type]
    assert words in str(err.value)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="the mode is one of plurality, wheel, not 'random'"):
        draw(ZEROS, [1, 2], "random")  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "counts"), [
    ("5,3,0", [5, 3, 0]), ("5 3 0", [5, 3, 0]), (" 5, 3 ,0 ", [5, 3, 0]), ("5\t3", [5, 3]),
    ("1,2,3,4,5,6", [1, 2, 3, 4, 5, 6]), ("007,0", [7, 0]),
])
def test_parse_tally_accepts_commas_or_spaces(text: str, counts: list[int]) -> None:
    assert parse_tally(text) == counts


@pytest.mark.parametrize(("text", "words"), [
    ("", "the tally is empty"),
    ("   ", "the tally is empty"),
    ("5,,3", "empty count"),
    ("5,3,", "empty count"),
    ("5,x", "'x' in the tally is not a whole number"),
    ("5,-3", "'-3' in the tally is not a whole number"),
    ("5,2.5", "'2.5' in the tally"),
    ("5,٣", "in the tally is not a whole number"),  # an Arabic-Indic digit: isdigit() but not ASCII
    ("5", "2 to 6 options, not 1"),
    ("1 2 3 4 5 6 7", "2 to 6 options, not 7"),
])
def test_parse_tally_errors_are_clear(text: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_tally(text)
    assert words in str(err.value)


# --- the statistics of the draw -------------------------------------------------------------------------------------

N_SEEDS = 4000
FIXED_SEEDS = [hashlib.sha256(f"wheel-vote-test-seed-{i}".encode()).hexdigest() for i in range(N_SEEDS)]
SIGMAS = 6


def within(count: int, share: float) -> bool:
    """``count`` of ``N_SEEDS`` draws is within SIGMAS binomial standard deviations of the expected share."""
    return abs(count / N_SEEDS - share) <= SIGMAS * math.sqrt(share * (1 - share) / N_SEEDS)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=2, max_size=6).filter(lambda t: sum(t) > 0))
def test_wheel_frequencies_over_many_seeds_match_the_vote_shares(tally: list[int]) -> None:
    """Each option's frequency over 4000 fixed seeds (sha256 of "wheel-vote-test-seed-<i>") is within 6 binomial
    standard deviations, 6 * sqrt(p(1-p)/4000) (at most 0.047), of its share p of the votes; an option without
    votes never wins (tolerance 0). Why 6 and not 5: the smallest possible share here is 1/251 (1 vote against
    5 x 50), where the exact binomial tail beyond 5 sigma is 1e-5 but beyond 6 sigma 3e-7 per option, so a run of
    20 tallies x 6 options fails by chance with probability below 1e-4 (CI's derandomised run never does); a
    wrong slice (a share off by one whole ballot in a small tally) or a biased ticket still fails it."""
    wins = Counter(draw(seed, tally, "wheel").winner for seed in FIXED_SEEDS)
    total = sum(tally)
    for i, votes in enumerate(tally):
        assert within(wins[i], votes / total), f"option {i + 1}: {wins[i]} of {N_SEEDS}, share {votes}/{total}"
    assert None not in wins


# chi-square critical values at p = 1e-6 for 1 to 5 degrees of freedom (k tied options: k - 1)
CHI2_CRITICAL = {1: 23.93, 2: 27.63, 3: 30.66, 4: 33.38, 5: 35.89}


@pytest.mark.parametrize("tally", [[3, 3], [1, 4, 4], [9, 0, 9, 9], [2, 5, 5, 1, 5, 5], [6, 6, 6, 6, 6, 6]])
def test_a_plurality_tie_draw_is_uniform_among_the_tied(tally: list[int]) -> None:
    """Over the 4000 fixed seeds each of the k tied options wins about 1/k of the time: Pearson's chi-square
    below its 1e-6 critical value for k - 1 degrees of freedom, each frequency within 6 sigma, others never."""
    tied = [i for i, c in enumerate(tally) if c == max(tally)]
    wins = Counter(draw(seed, tally, "plurality").winner for seed in FIXED_SEEDS)
    assert set(wins) == set(tied)
    expected = N_SEEDS / len(tied)
    chi2 = sum((wins[i] - expected) ** 2 / expected for i in tied)
    assert chi2 < CHI2_CRITICAL[len(tied) - 1], (chi2, wins)
    assert all(within(wins[i], 1 / len(tied)) for i in tied), wins


# --- python -m bot verify-draw ---------------------------------------------------------------------------------------


def test_verify_draw_in_a_subprocess_agrees_with_draw(tmp_path: Path) -> None:
    """As a member runs it: the seed revealed at the close, the tally from the lock log, the hash from the vote
    message. Run outside the repository, without any config."""
    seed, tally = FIXED_SEEDS[7], [5, 3, 1]
    expected = draw(seed, tally, "wheel")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CHASTIFY_BOT_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONIOENCODING"] = "utf-8"
    done = subprocess.run([sys.executable, "-m", "bot", "verify-draw", seed, "5,3,1",
                           "--commitment", commitment(seed).upper()],
                          cwd=tmp_path, env=env, capture_output=True, text=True, encoding="utf-8", timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"commitment: {commitment(seed)}" in lines
    assert "            matches --commitment" in lines
    assert f"ticket:     {expected.ticket} of 9 (numbered 0 to 8)" in lines
    assert expected.winner is not None
    assert f"winner:     option {expected.winner + 1}" in lines
    assert lines[-1] == format_draw(expected)


def test_verify_draw_plurality_tie_and_spaced_tally(capsys: pytest.CaptureFixture[str]) -> None:
    seed = FIXED_SEEDS[3]
    d = draw(seed, [4, 1, 4], "plurality")
    assert main(["verify-draw", seed, "4", "1", "4", "--mode", "plurality"]) == 0
    out = capsys.readouterr().out
    assert d.winner is not None
    assert f"ticket:     {d.ticket} of 2 (numbered 0 to 1)" in out
    assert f"winner:     option {d.winner + 1}" in out
    assert "--commitment" not in out
    assert out.splitlines()[-1] == format_draw(d)


def test_verify_draw_nobody_voted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-draw", ZEROS, "0,0,0"]) == 0
    out = capsys.readouterr().out
    assert "ticket:     none (no draw)" in out and "winner:     none (nobody voted)" in out


def test_verify_draw_with_the_wrong_commitment_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-draw", ZEROS, "5,3,1", "--commitment", commitment(EFFS)]) == 1
    out = capsys.readouterr().out
    assert f"DOES NOT match --commitment {commitment(EFFS)}" in out
    assert f"commitment: {commitment(ZEROS)}" in out


@pytest.mark.parametrize(("args", "words"), [
    (["abc", "5,3"], "the seed must be exactly 64 hex characters (0-9, a-f): it has 3 characters"),
    ([ZEROS, "5,x"], "'x' in the tally is not a whole number of votes >= 0"),
    ([ZEROS, "5"], "a tally has 2 to 6 options, not 1"),
    ([ZEROS, "5,3", "--commitment", "zz"], "--commitment must be 64 hex characters"),
])
def test_verify_draw_bad_input_exits_2_saying_why(args: list[str], words: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-draw", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("verify-draw: ") and words in captured.err


def test_verify_draw_unknown_mode_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["verify-draw", ZEROS, "5,3", "--mode", "random"])
    assert exit_.value.code == 2
    assert "invalid choice: 'random'" in capsys.readouterr().err
