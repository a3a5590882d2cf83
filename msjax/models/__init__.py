"""Built-in models: `msjax.models.mapk_cascade()`, ... ``LIBRARY`` maps names to builders."""

from ._library import LIBRARY as LIBRARY
from ._library import birth_death as birth_death
from ._library import cooperative_switch as cooperative_switch
from ._library import isomerisation as isomerisation
from ._library import lotka_volterra as lotka_volterra
from ._library import mapk_cascade as mapk_cascade
from ._library import michaelis_menten as michaelis_menten
from ._library import repressilator as repressilator
from ._library import robertson as robertson
from ._library import schlogl as schlogl
from ._library import telegraph_gene as telegraph_gene
from ._library import toggle_switch as toggle_switch
