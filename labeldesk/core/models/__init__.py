"""Model assistance, offline: a registry of ONNX models with manifests, a runner on ONNX Runtime,
SAM-family interactive segmentation, pre-labeling, a pixel classifier that learns from the
project's labels, evaluation against reviewed labels and active-learning queues. Headless."""
