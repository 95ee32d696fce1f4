"""Template selection: rank robot behaviour templates for a skill from video and text.

`vidskill.choose(skill, templates_file, human=... | store=...)` (select/choose.py) is the one
call (not re-exported here, where the module `choose` would shadow it): it gathers the
skill's human clips, scores each template's execution video against them
(`video_scores`, `similarity`), asks a text prior (`text`) and fuses both (`fusion`).
`evaluate` runs the ablation on any labelled corpus. Names below are imported on first use.
"""

from vidskill._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("DEFAULT_METHOD", "FUSION_RULES", "METHODS", "NoHumanClipsError", "Ranking",
                     "TemplateSelector", "get_fusion", "method_rule"), "vidskill.select.fusion"),
    **dict.fromkeys(("Template", "TemplateFileError", "load_templates"),
                    "vidskill.select.templates"),
    **dict.fromkeys(("TEXT_SCORERS", "get_text_scorer"), "vidskill.select.text"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
