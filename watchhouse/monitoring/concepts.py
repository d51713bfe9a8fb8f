"""Shared concepts across languages, for the trained classifier's features.

A model learns from the words of the posts it is trained on. An agency's labelled posts are
mostly in one language, while the posts of the next emergency arrive in several: a weight
learnt for "injured" says nothing about "heridos", "feridos" or "feriti". Each word below
(written casefolded and without accents, as posts are folded before the lookup) stands for
one concept, and a post that contains it also gets that concept's token, so what the model
learns from one language carries over to the same concept in another.

The list is hand-written crisis vocabulary in English, Spanish, Portuguese, Italian, French
and Tagalog, grouped by what an emergency post reports (deaths, damage, evacuations, needs,
warnings) and what it usually does not (prayers, sympathy). It is not learnt from any corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from watchhouse.monitoring.lexicon import fold

CONCEPTS: dict[str, str] = {
    "death": "dead death deaths died die dies dying killed kills kill fatalities fatality "
    "fatal toll bodies corpses muerto muertos muerta muertas muerte muertes fallecido "
    "fallecidos fallecida fallecidas fallecieron fallecio murio murieron mueren cadaveres "
    "morto mortos morta mortas morte mortes morreu morreram morrem obito obitos morti "
    "deceduti deceduto decessi cadaveri vittima mort morts deces tues tue patay nasawi "
    "namatay",
    "injury": "injured injuries injury hurt wounded casualties heridos herido heridas herida "
    "lesionados feridos ferido feridas ferida feriti ferito ferita blesses blesse sugatan",
    "missing": "missing desaparecidos desaparecido desaparecida dispersi disperso disparus "
    "nawawala",
    "victim": "victims victim victimas victima vitimas vitima vittime victimes",
    "rescue": "rescue rescued rescuers rescuing rescate rescatados rescatistas rescatan "
    "resgate resgatados resgatar soccorso soccorsi soccorritori salvati salvataggio secours "
    "sauvetage sagip",
    "evacuate": "evacuate evacuated evacuation evacuations evacuees evacuating evacuacion "
    "evacuados evacuar evacuan desalojo desalojados evacuacao evacuazione evacuati sfollati "
    "sfollato evacues lumikas",
    "shelter": "shelter shelters albergue albergues refugio refugios abrigo abrigos rifugio "
    "accoglienza hebergement",
    "donate": "donate donations donation donating donated volunteers volunteer volunteering "
    "relief aid supplies donaciones donacion donar donen acopio voluntarios voluntario "
    "viveres insumos doacoes doacao doar doem mantimentos donazioni donazione donare "
    "volontari volontario aiuti raccolta dons benevoles donasyon",
    "help": "help helping ayuda ayudar ajuda ajudar aiuto aiutare aide tulong",
    "damage": "damage damaged damages destroyed destruction collapsed collapse debris rubble "
    "danos dano destruidas destruido destruidos derrumbe derrumbes colapso escombros "
    "desabou desabamento destruicao danni danno distrutto distrutta distrutti crollo "
    "crollato crollata crolli macerie degats detruit detruits effondrement nasira",
    "flood": "flood floods flooding flooded floodwaters inundacion inundaciones inundado "
    "inundada inundados desborde enchente enchentes inundacao alagamento alagamentos "
    "alluvione alluvioni esondazione allagamenti allagato inondation inondations crue baha",
    "fire": "fire fires wildfire wildfires bushfire bushfires blaze flames incendio incendios "
    "fuego llamas fogo chamas incendi fuoco rogo fiamme incendie feu",
    "explosion": "explosion explosions blast exploded explosiones explosivo explosao "
    "esplosione esplosioni scoppio",
    "quake": "earthquake earthquakes quake quakes tremor tremors aftershock aftershocks "
    "magnitude terremoto terremotos sismo sismos temblor temblores replica replicas "
    "tremores scossa scosse sisma seisme seismes lindol magnitud magnitudo",
    "storm": "storm storms typhoon hurricane cyclone tornado winds rain rains tormenta "
    "tormentas tifon huracan ciclon lluvias lluvia tempestade chuva chuvas ciclone tempesta "
    "pioggia maltempo tempete bagyo ulan",
    "warning": "warning warnings alert alerts advisory emergency alerta alertas emergencia "
    "aviso avisos allerta allarme emergenza alerte urgence babala",
    "road": "road roads closed closure closures highway bridge traffic trains train carretera "
    "carreteras cerrada cerrado cerradas puente transito estrada estradas interditada ponte "
    "strada strade chiusa chiuse chiuso viabilita route routes ferme pont kalsada",
    "phone": "hotline hotlines phone call numbers number telefono telefonos linea lineas "
    "telefone telefones numero numeri contactos contatti",
    "hospital": "hospital hospitals hospitalized ambulance ambulances hospitales ambulancia "
    "ambulancias hospitais ospedale ospedali ambulanza hopital hopitaux ospital",
    "responder": "police firefighters firemen firefighter army military troops policia "
    "bomberos ejercito bombeiros exercito polizia carabinieri pompieri esercito pompiers "
    "gendarmes pulis",
    "authority": "officials official government authorities minister mayor governor "
    "president gobierno autoridades ministro alcalde gobernador presidente governo sindaco "
    "autorita prefetto gouvernement autorites maire",
    "pray": "pray prayers praying prayer thoughts condolences bless blessed god rip oracion "
    "oraciones orar oremos dios condolencias bendiga bendiciones oracao oracoes orem deus "
    "preghiera preghiere preghiamo pregate dio condoglianze prieres priere dieu pensees "
    "ipagdasal panalangin dasal",
    "strength": "strength strong stay safe fuerza animo forca forza coraggio courage",
    "news": "breaking update updates latest news report reports reported confirmed confirms "
    "urgente noticia noticias ultima informe reporta confirma confirmado urgentissimo "
    "notizie notizia ultimora conferma confermato direct info informacion informazioni",
    "media": "photos photo pictures picture images video videos footage fotos foto imagenes "
    "imagen imagens immagini immagine",
    "number": "hundreds thousands dozens cientos miles decenas centenas milhares dezenas "
    "centinaia migliaia decine",
}

# Word -> its concept's token. A token that cannot be a word of a post ("zzdeath" is no word
# in any of these languages) so it never collides with one.
_TOKENS: dict[str, str] = {}
for _concept, _words in CONCEPTS.items():
    for _word in _words.split():
        _TOKENS.setdefault(_word, f"zz{_concept}")

_WORD = re.compile(r"\w+")


def concept_tokens(text: str) -> Iterable[str]:
    """The concept token of every listed word in ``text`` (casefolded already), in order."""
    return [_TOKENS[w] for w in _WORD.findall(fold(text)) if w in _TOKENS]
