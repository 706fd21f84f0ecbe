import torch

from tpir.data.transforms import centre_crop, crop_pair, random_dihedral


def test_dihedral_augmentation_draws_all_eight_and_moves_pairs_together() -> None:
    image = torch.arange(12.0).view(1, 3, 4)  # no symmetry: each transform gives another array
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        lq, gt = random_dihedral([image, image + 100], generator)
        assert torch.equal(gt, lq + 100)
        seen.add(tuple(lq.flatten().tolist()) + tuple(lq.shape))
    assert len(seen) == 8
    flips_only = {
        tuple(random_dihedral([image], generator, rotate=False)[0].flatten().tolist()) for _ in range(50)
    }
    assert len(flips_only) == 4  # the half turn is a flip of both axes: vertical lines stay vertical


def test_a_crop_is_the_same_window_of_each_image_and_pads_small_ones() -> None:
    image = torch.arange(30.0).view(1, 5, 6)
    lq, gt = crop_pair([image, image + 100], 3, torch.Generator().manual_seed(1))
    assert lq.shape == (1, 3, 3) and torch.equal(gt, lq + 100)
    (padded,) = crop_pair([image], 8, torch.Generator().manual_seed(1))
    assert padded.shape == (1, 8, 8) and torch.equal(padded[:, :5, :6], image)
    assert torch.equal(padded[:, 7, :6], image[:, 4])  # the bottom row repeated
    assert crop_pair([image], None, torch.Generator())[0] is image


def test_the_centre_crop_keeps_the_middle() -> None:
    image = torch.arange(30.0).view(1, 5, 6)
    assert torch.equal(centre_crop(image, 3), image[:, 1:4, 1:4])
    assert torch.equal(centre_crop(image, 8), image)  # shorter sides are kept whole
