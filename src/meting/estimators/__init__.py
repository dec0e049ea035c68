"""The bodies of :class:`~meting.design.SurveyDesign`'s estimators beyond mean, total and
proportion, one module each (the methods call them in one line): ``ciprop``, ``ratio``,
``quantile``, ``ttest``; ``inputs`` and ``domains`` hold what they share."""
