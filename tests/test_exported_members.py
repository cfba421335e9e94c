"""Keep ``benchsuite.__all__`` honest: everything public is exported, everything exported exists."""

import benchsuite


def test_all_names_exist() -> None:
    for name in benchsuite.__all__:
        assert hasattr(benchsuite, name), name


def test_public_members_are_in_all() -> None:
    public = {
        name
        for name, value in vars(benchsuite).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("benchsuite")
    }
    assert public <= set(benchsuite.__all__)
