from django.urls import path

from portfolio import views

app_name = "portfolio"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("agents/", views.agents, name="agents"),
    path("maturity/", views.maturity_overview, name="maturity"),
    path("maturity/<slug:slug>/", views.unit_maturity, name="unit-maturity"),
    path("maturity/<slug:slug>/assess/", views.assess_unit, name="assess-unit"),
    path("export/agents.csv", views.export_agents_csv, name="export-agents"),
    path("export/findings.csv", views.export_findings_csv, name="export-findings"),
    path("export/requirements.csv", views.export_requirements_csv, name="export-requirements"),
    path("export/chargeback.csv", views.export_chargeback_csv, name="export-chargeback"),
    path("export/portfolio.xlsx", views.export_workbook, name="export-workbook"),
    path("export/board-pack.pdf", views.export_board_pack, name="export-board-pack"),
    path("export/agent-inventory.cdx.json", views.export_inventory, name="export-inventory"),
]
