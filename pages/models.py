"""Models (admin): the active model, fine-tuned candidates, promotion by the rule, rollback."""

from ui import models_admin

models_admin.page()
