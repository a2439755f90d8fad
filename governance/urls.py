from django.urls import path

from governance import cost_views, findings_views, views

app_name = "governance"
urlpatterns = [
    path("findings/", findings_views.finding_list, name="findings"),
    path("findings/run/", findings_views.run_checks_now, name="run-checks"),
    path("findings/<int:pk>/", findings_views.finding_detail, name="finding-detail"),
    path("findings/<int:pk>/acknowledge/", findings_views.finding_acknowledge, name="finding-acknowledge"),
    path("findings/<int:pk>/waive/", findings_views.finding_waive, name="finding-waive"),
    path("costs/", cost_views.costs, name="costs"),
    path("costs/parameters/", cost_views.drift_parameters, name="drift-parameters"),
    path("costs/units/<slug:slug>/budget/", cost_views.unit_budget, name="unit-budget"),
    path("agents/<str:key>/budget/", cost_views.agent_budget, name="agent-budget"),
    path("owe/", views.what_i_owe, name="owe"),
    path("queue/", views.board_queue, name="queue"),
    path("controls/", views.control_catalog, name="controls"),
    path("agents/<str:key>/", views.agent_governance, name="agent"),
    path("agents/<str:key>/assessment/", views.assessment_submit, name="assessment-submit"),
    path("agents/<str:key>/evidence/<slug:code>/", views.evidence_submit, name="evidence-submit"),
    path("agents/<str:key>/reviews/", views.review_request, name="review-request"),
    path("agents/<str:key>/incidents/", views.incident_report, name="incident-report"),
    path("agents/<str:key>/waivers/", views.waiver_grant, name="waiver-grant"),
    path("assessments/<int:pk>/decide/", views.assessment_decide, name="assessment-decide"),
    path("evidence/<int:pk>/file/", views.evidence_file, name="evidence-file"),
    path("evidence/<int:pk>/decide/", views.evidence_decide, name="evidence-decide"),
    path("reviews/<int:pk>/", views.review_detail, name="review"),
    path("reviews/<int:pk>/cancel/", views.review_cancel, name="review-cancel"),
    path("conditions/<int:pk>/close/", views.condition_close, name="condition-close"),
    path("releases/<int:pk>/deploy/", views.release_deploy, name="release-deploy"),
    path("incidents/<int:pk>/resolve/", views.incident_resolve, name="incident-resolve"),
    path("waivers/<int:pk>/revoke/", views.waiver_revoke, name="waiver-revoke"),
]
