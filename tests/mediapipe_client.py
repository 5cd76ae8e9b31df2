"""Classifies images with MediaPipe Tasks' ImageClassifier: the runtime phone apps call.

Standalone (no TensorFlow, no keras_convnets import), so it runs in any
environment that has ``mediapipe``:

    python tests/mediapipe_client.py MODEL.tflite IMAGES.npy OUT.json

``IMAGES.npy``: uint8 ``[N, h, w, 3]`` RGB images (MediaPipe converts every
image to RGB and resizes it to the model's input itself). Writes
``{"index": [...], "name": [...], "score": [...]}``: each image's top
category as MediaPipe reports it, names from the file's own metadata.
"""

import json
import sys

import numpy as np


def classify(model_path, images):
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = vision.ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=model_path), max_results=1
    )
    out = {"index": [], "name": [], "score": []}
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for image in images:
            frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
            top = classifier.classify(frame).classifications[0].categories[0]
            out["index"].append(int(top.index))
            out["name"].append(top.category_name)
            out["score"].append(float(top.score))
    return out


if __name__ == "__main__":
    model, images, result = sys.argv[1:4]
    with open(result, "w", encoding="utf-8") as f:
        json.dump(classify(model, np.load(images)), f)
