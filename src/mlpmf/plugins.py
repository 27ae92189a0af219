"""ASE calculators named in a study: ``"package.module:Class"`` or
``"path/to/file.py:Class"``, imported and checked against the parameters the config
gives them (a ``**kwargs`` constructor against its ``default_parameters``), for the
oracle, the explorer and ``external_potential``."""

import importlib
import importlib.util
import inspect
from collections.abc import Mapping
from pathlib import Path

from ase.calculators.calculator import Calculator


def ase_calculator_class(name: str) -> type:
    """The class named ``"package.module:Class"`` or ``"path/to/file.py:Class"``;
    ValueError naming what could not be imported and how to fix it."""
    module_name, _, class_name = str(name).rpartition(":")
    if not module_name or not class_name:
        raise ValueError(
            f"oracle.calculator: expected 'package.module:Class' or 'file.py:Class', got {name!r}"
        )
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ImportError(f"no file {str(path)!r}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as error:
        package = module_name.split(".")[0]
        raise ValueError(
            f"oracle.calculator: cannot import {module_name!r} ({error}); install the "
            f"package that provides it ({package}) in this environment, or give a file path"
        ) from None
    calculator = getattr(module, class_name, None)
    if not (isinstance(calculator, type) and issubclass(calculator, Calculator)):
        raise ValueError(
            f"oracle.calculator: {module_name!r} has no ASE Calculator class {class_name!r}"
        )
    return calculator


def calculator_and_parameters(settings: Mapping, key: str = "oracle") -> tuple[type, dict]:
    """The calculator class of an ``{calculator, parameters}`` block and its keyword
    arguments, checked against the class's signature without building it; ValueError
    naming ``key``."""
    if not settings.get("calculator"):
        raise ValueError(f"{key}.calculator: kind ase needs 'package.module:Class'")
    try:
        calculator = ase_calculator_class(settings["calculator"])
    except ValueError as error:
        raise ValueError(str(error).replace("oracle.", f"{key}.", 1)) from None
    parameters = dict(settings.get("parameters") or {})
    try:
        inspect.signature(calculator).bind(**parameters)
    except TypeError as error:
        raise ValueError(f"{key}.parameters: {settings['calculator']}: {error}") from None
    accepted = accepted_parameters(calculator)
    unknown = sorted(set(parameters) - accepted) if accepted is not None else []
    if unknown:  # **kwargs would swallow them: the calculator would run on its defaults
        raise ValueError(
            f"{key}.parameters: {settings['calculator']} has no parameter "
            f"{', '.join(map(repr, unknown))}; expected some of {sorted(accepted)}"
        )
    return calculator, parameters


def accepted_parameters(calculator: type) -> set[str] | None:
    """The keyword arguments an ASE calculator class takes, where its constructor passes
    ``**kwargs`` on to ASE (which files them under ``parameters`` without complaint):
    its ``default_parameters`` and the named arguments of the constructors it inherits.
    None where the signature alone decides (no ``**kwargs``, or no declared parameters)."""
    signature = inspect.signature(calculator)
    if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    declared = getattr(calculator, "default_parameters", None)
    if not declared:
        return None
    named = set()
    for cls in calculator.__mro__:
        if "__init__" in vars(cls):
            for name, p in inspect.signature(cls.__init__).parameters.items():
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self":
                    named.add(name)
    return set(declared) | named


def build_calculator(settings: Mapping, key: str = "oracle") -> Calculator:
    calculator, parameters = calculator_and_parameters(settings, key)
    return calculator(**parameters)


def external_calculators(specs) -> list[Calculator]:
    """The calculators of ``external_potential`` (each ``{calculator, parameters}``,
    built as an ``ase`` oracle), with errors naming the entry."""
    if not specs:
        raise ValueError("external_potential: potential ase needs at least one calculator")
    return [build_calculator(spec, f"external_potential[{k}]") for k, spec in enumerate(specs)]
