"""Governance routes on the shared /api/v1/ router, registered by config.api_urls."""

from django.urls import path

from governance.api import views

extra_urlpatterns: list = [
    path("agents/<str:key>/requirements/", views.AgentRequirementsView.as_view(), name="agent-requirements"),
    path("agents/<str:key>/technical-file/", views.TechnicalFileView.as_view(), name="agent-technical-file"),
    path("eu-ai-act/obligations/", views.ObligationsView.as_view(), name="eu-ai-act-obligations"),
    path("evidence/<int:pk>/download/", views.EvidenceDownloadView.as_view(), name="evidence-download"),
]


def register(router) -> None:
    router.register("risk-policies", views.RiskPolicyViewSet, basename="riskpolicy")
    router.register("controls", views.ControlViewSet, basename="control")
    router.register("risk-assessments", views.RiskAssessmentViewSet, basename="riskassessment")
    router.register("evidence", views.EvidenceViewSet, basename="evidence")
    router.register("reviews", views.ReviewViewSet, basename="review")
    router.register("review-conditions", views.ReviewConditionViewSet, basename="reviewcondition")
    router.register("releases", views.ReleaseViewSet, basename="release")
    router.register("incidents", views.IncidentViewSet, basename="incident")
    router.register("waivers", views.WaiverViewSet, basename="waiver")
    router.register("attestation-campaigns", views.AttestationCampaignViewSet, basename="attestationcampaign")
    router.register("attestations", views.AttestationViewSet, basename="attestation")
    router.register(
        "fundamental-rights-assessments",
        views.FundamentalRightsAssessmentViewSet,
        basename="fundamentalrightsassessment",
    )

    from governance.api import findings

    router.register("findings", findings.FindingViewSet, basename="finding")
    router.register("check-runs", findings.CheckRunViewSet, basename="checkrun")
