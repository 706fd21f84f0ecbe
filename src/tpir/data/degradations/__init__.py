"""Synthetic degradations, one module per family, as pure tensor functions: Gaussian noise, rain streaks
and haze (the scene and the sensor), blur, low light, resolution loss and JPEG compression (the camera, the apps and the file).

Every function takes images as float tensors, RGB in [0, 1], of shape (3, H, W) or (B, 3, H, W), returns the
same rank, clips its output to [0, 1], and draws any randomness from the ``torch.Generator`` it is given
(blur and JPEG are deterministic and draw nothing), so the same generator state gives the same output.
Each returns ``(degraded, params)``: ``params`` is a frozen :class:`DegradationParams` of the numbers used,
whose ``describe()`` writes the numeric restoration prompt of SPIRE ("denoise with sigma 25").

Each family's ``sample_*_params`` draws parameters from its documented default ranges (the module constants
of its file). Which task uses which degradation is declared in :mod:`tpir.data.tasks`.
"""

from tpir.data.degradations.blur import BlurParams, add_blur, sample_blur_params
from tpir.data.degradations.haze import HazeParams, add_haze, estimate_depth_proxy, sample_haze_params
from tpir.data.degradations.jpeg import JpegParams, add_jpeg, sample_jpeg_params
from tpir.data.degradations.lowlight import LowLightParams, add_low_light, sample_low_light_params
from tpir.data.degradations.noise import NoiseParams, add_gaussian_noise, sample_noise_params
from tpir.data.degradations.params import DegradationParams
from tpir.data.degradations.rain import RainParams, add_rain_streaks, sample_rain_params
from tpir.data.degradations.resize import ResizeParams, add_resize, sample_resize_params

__all__ = [
    "BlurParams",
    "DegradationParams",
    "HazeParams",
    "JpegParams",
    "LowLightParams",
    "NoiseParams",
    "RainParams",
    "ResizeParams",
    "add_blur",
    "add_gaussian_noise",
    "add_haze",
    "add_jpeg",
    "add_low_light",
    "add_rain_streaks",
    "add_resize",
    "estimate_depth_proxy",
    "sample_blur_params",
    "sample_haze_params",
    "sample_jpeg_params",
    "sample_low_light_params",
    "sample_noise_params",
    "sample_rain_params",
    "sample_resize_params",
]
