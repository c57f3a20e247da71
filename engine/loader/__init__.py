"""The tariff-plan loader: CGRateS's CSV folders into DataDB.

``specs`` (how each file's columns are read), ``rows`` (CSV rows and cells, errors at file:line:column),
``profiles`` (multi-row profiles), ``tariffplan`` (the plan in memory, its checks and writes, ``load_tariff_plan``),
``service`` (APIerSv1.LoadTariffPlanFromFolder, cgr-loader's progress bar).
"""
