"""BlazeFace (Bazarevsky et al. 2019; MediaPipe's full-range model) as a fer-zoo face detector plugin.

`fer-zoo predict MODEL photos/ --detector blazeface`, or ``fer_zoo.Predictor(model, detector="blazeface")``.
The model (MediaPipe's, Apache-2.0: model/LICENSE-mediapipe) travels inside this package as ONNX
(made by convert_model.py) and runs on ONNX Runtime, so it needs neither TensorFlow nor a download.
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
        description="MediaPipe's full-range BlazeFace on ONNX Runtime, tiled to find faces from 24 px",
    ))
