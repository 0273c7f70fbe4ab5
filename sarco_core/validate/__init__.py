"""Site validation: the model against a site's expert masks (``sarco validate``), with agreement statistics."""
