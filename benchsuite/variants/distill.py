"""A distilled student: a smaller model the workload defines, trained from the fp32 teacher.

Training uses knowledge distillation (Hinton et al. 2015: temperature 4, 70 % soft targets,
30 % true labels) with the workload's own training spec, for its full epoch count; the weights are
cached by a hash of the workload's source like the teacher's. What training the student costs is
measured by the ``training`` scenario of the ``distilled`` variant.
"""

from __future__ import annotations

from torch import nn

from benchsuite.results import TrainingOutcome
from benchsuite.variants.base import PreparedModel
from benchsuite.workload.base import Workload, seeded
from benchsuite.workload.trainer import distillation_loss, train_classifier
from benchsuite.workload.weights import cached_weights, definition_hash


def requires_student(workload: Workload) -> str | None:
    if workload.pretrained_student() is not None:
        return None
    if workload.training is None or workload.build_student() is None:
        return (
            "the workload defines no student: a student model to train (build_student and a "
            "training spec) or a pretrained one (--student hf:...)"
        )
    return None


def train_student(workload: Workload, student: nn.Module, stop_at_target: bool) -> TrainingOutcome:
    spec = workload.training
    assert spec is not None
    return train_classifier(
        student,
        workload.labelled(workload.train_data(), "train_data"),
        workload.labelled(workload.eval_data(), "eval_data"),
        spec,
        loss_fn=distillation_loss(workload.reference_model()),
        stop_at_target=stop_at_target,
    )


def build_student(workload: Workload) -> nn.Module:
    spec = workload.training
    student = seeded(workload.build_student, spec.seed if spec else 0)
    if student is None:
        raise ValueError(f"workload {workload.name} defines no student")
    return student


def distilled(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
    teacher_params = sum(p.numel() for p in model.parameters())
    pretrained = workload.pretrained_student()
    if pretrained is not None:
        student_params = sum(p.numel() for p in pretrained.parameters())
        return PreparedModel(
            pretrained.float().to(device).eval(),
            device,
            detail=f"pretrained student {student_params} parameters vs teacher {teacher_params}",
        )
    student, from_cache = cached_weights(
        f"{workload.name}-student",
        definition_hash(workload, "distilled student"),
        lambda: build_student(workload),
        lambda fresh: train_student(workload, fresh, stop_at_target=False),
    )
    student_params = sum(p.numel() for p in student.parameters())
    return PreparedModel(
        student.to(device).eval(),
        device,
        detail=f"student {student_params} parameters vs teacher {teacher_params}"
        f" ({'weights from cache' if from_cache else 'trained now'})",
    )
