"""API routes of this app, registered on the shared /api/v1/ router by config.api_urls."""

from django.urls import path

from portfolio.api import views

extra_urlpatterns: list = [
    path("portfolio/summary/", views.PortfolioSummaryView.as_view(), name="portfolio-summary"),
    path("portfolio/dashboard/", views.PortfolioDashboardView.as_view(), name="portfolio-dashboard"),
    path("portfolio/maturity/", views.PortfolioMaturityView.as_view(), name="portfolio-maturity"),
]


def register(router) -> None:
    router.register("maturity-assessments", views.MaturityAssessmentViewSet, basename="maturityassessment")
    router.register("pattern-minimums", views.PatternMinimumViewSet, basename="patternminimum")
