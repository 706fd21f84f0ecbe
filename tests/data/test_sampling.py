"""The resumable order of training samples: keys per epoch and rank, and where a resumed run starts."""

from __future__ import annotations

from tpir.data.sampling import DataPosition, EpochKeys, mixed_seed


def test_each_epoch_is_a_new_permutation_of_its_own_keys() -> None:
    keys = EpochKeys(size=12, seed=0, batch_size=4)
    first = list(keys)
    keys.set_epoch(1)
    second = list(keys)
    assert sorted(first) == list(range(12)) and sorted(second) == list(range(12, 24))
    assert [k - 12 for k in second] != first
    assert list(EpochKeys(12, 0, 4)) == first and list(EpochKeys(12, 1, 4)) != first  # seeded


def test_ranks_share_an_epoch_without_overlap() -> None:
    shares = [list(EpochKeys(size=13, seed=2, batch_size=2, rank=r, world=3)) for r in range(3)]
    assert all(len(share) == 4 for share in shares)  # 13 // 3: every rank takes as many steps
    assert len(set().union(*shares)) == 12 and set().union(*shares) <= set(range(13))


def test_a_resume_starts_after_the_trained_batches_and_an_ended_epoch_goes_on_with_the_next() -> None:
    straight = EpochKeys(size=12, seed=5, batch_size=4)
    straight.set_epoch(2)
    epoch_two = list(straight)
    resumed = EpochKeys(size=12, seed=5, batch_size=4)
    resumed.resume(DataPosition(epoch=2, batches=1))
    resumed.set_epoch(0)  # Lightning may set an epoch before the first pass; the resume position wins
    assert list(resumed) == epoch_two[4:]
    resumed.set_epoch(3)
    straight.set_epoch(3)
    assert list(resumed) == list(straight)  # later passes are ordinary epochs

    ended = EpochKeys(size=12, seed=5, batch_size=4)
    ended.resume(DataPosition(epoch=2, batches=3))
    assert list(ended) == list(straight) and ended.epoch == 3


def test_mixed_seeds_differ_for_neighbouring_parts() -> None:
    seeds = {mixed_seed(0, key) for key in range(1000)} | {mixed_seed(1, key) for key in range(1000)}
    assert len(seeds) == 2000 and all(0 <= s < 2**63 for s in seeds)
    assert mixed_seed(3, 7) == mixed_seed(3, 7)
