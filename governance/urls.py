from django.urls import path, re_path

from governance import findings_views, views

app_name = "governance"
urlpatterns = [
    path("findings/", findings_views.finding_list, name="findings"),
    path("findings/run/", findings_views.run_checks_now, name="run-checks"),
    path("findings/<int:pk>/", findings_views.finding_detail, name="finding-detail"),
    path("findings/<int:pk>/acknowledge/", findings_views.finding_acknowledge, name="finding-acknowledge"),
    path("findings/<int:pk>/waive/", findings_views.finding_waive, name="finding-waive"),
    path("owe/", views.what_i_owe, name="owe"),
    path("queue/", views.board_queue, name="queue"),
    path("controls/", views.control_catalog, name="controls"),
    path("eu-ai-act/", views.obligations, name="obligations"),
    path("agents/<str:key>/", views.agent_governance, name="agent"),
    path("agents/<str:key>/assessment/", views.assessment_submit, name="assessment-submit"),
    path("agents/<str:key>/evidence/<slug:code>/", views.evidence_submit, name="evidence-submit"),
    path("agents/<str:key>/reviews/", views.review_request, name="review-request"),
    path("agents/<str:key>/incidents/", views.incident_report, name="incident-report"),
    path("agents/<str:key>/fria/", views.fria_submit, name="fria-submit"),
    re_path(r"^agents/(?P<key>[^/]+)/technical-file\.(?P<fmt>pdf|md)$", views.technical_file, name="technical-file"),
    path("fria/<int:pk>/pdf/", views.fria_pdf, name="fria-pdf"),
    path("agents/<str:key>/waivers/", views.waiver_grant, name="waiver-grant"),
    path("assessments/<int:pk>/decide/", views.assessment_decide, name="assessment-decide"),
    path("evidence/<int:pk>/file/", views.evidence_file, name="evidence-file"),
    path("evidence/<int:pk>/decide/", views.evidence_decide, name="evidence-decide"),
    path("reviews/<int:pk>/", views.review_detail, name="review"),
    path("reviews/<int:pk>/cancel/", views.review_cancel, name="review-cancel"),
    path("conditions/<int:pk>/close/", views.condition_close, name="condition-close"),
    path("releases/<int:pk>/deploy/", views.release_deploy, name="release-deploy"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
    path("incidents/<int:pk>/regulator-report.pdf", views.incident_regulator_report, name="incident-regulator-report"),
    path("incidents/<int:pk>/resolve/", views.incident_resolve, name="incident-resolve"),
    path("waivers/<int:pk>/revoke/", views.waiver_revoke, name="waiver-revoke"),
]
