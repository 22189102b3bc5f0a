"""BlazeFace (Bazarevsky et al. 2019; MediaPipe's full- and short-range models) as a fer-zoo face detector plugin.

Installed, it is fer-zoo's default detector (``--detector auto``, priority 10 over the Haar cascade's 0);
by name: `fer-zoo predict MODEL photos/ --detector blazeface`, ``fer_zoo.Predictor(model, detector="blazeface")``.
The models (MediaPipe's, Apache-2.0: model/LICENSE-mediapipe) travel inside this package as ONNX
(made by convert_model.py) and run on ONNX Runtime, so they need neither TensorFlow nor a download.
"""

import fer_zoo

from fer_zoo_blazeface.detector import BlazeFace

# The plugin API this module is written against (fer-zoo refuses to load it where that differs).
FER_ZOO_PLUGIN_API = "1.0"

__all__ = ["BlazeFace"]


@fer_zoo.hookimpl
def fer_zoo_register_detectors(register):
    register(fer_zoo.FaceDetector(
        name="blazeface", build=BlazeFace, options=BlazeFace.OPTIONS,
        description="MediaPipe's BlazeFace on ONNX Runtime: full-range, tiled, from 24 px; short-range confirms",
        # faster than the Haar cascade and finds more faces (docs/predict.md): the default where installed
        priority=10,
    ))
