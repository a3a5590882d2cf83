"""`load_antimony`: Antimony text → SBML (the ``antimony`` package) → `load_sbml`."""

from .._errors import SBMLError
from ._sbml import load_sbml
from ._sbml_model import RuleModel


def antimony_to_sbml(text: str) -> str:
    """Translate Antimony ``text`` into an SBML document (a string), or raise `SBMLError`."""
    try:
        import antimony
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise SBMLError(
            "load_antimony needs the 'antimony' package: pip install 'msjax[sbml]'"
        ) from error
    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(text) < 0:
        raise SBMLError(f"invalid Antimony: {antimony.getLastError().strip()}")
    module = antimony.getMainModuleName()
    sbml = antimony.getSBMLString(module)
    if not sbml:
        raise SBMLError(f"Antimony could not produce SBML: {antimony.getLastError().strip()}")
    return sbml


def load_antimony(text: str) -> RuleModel:
    """Load a model written in Antimony (Smith et al. 2009).

    **Arguments:** ``text``: the Antimony source.

    **Returns:** the `RuleModel` that `load_sbml` makes of its SBML translation.

    **Example:**
    ```python
    model = msjax.load_antimony('''
        J1: A -> B; k1*A
        A = 10; B = 0; k1 = 0.5
    ''')
    ```
    """
    return load_sbml(antimony_to_sbml(text))
