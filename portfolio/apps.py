from django.apps import AppConfig

# Board members record maturity assessments; platform administrators also own
# the maturity policy (pattern minimums). Leadership reads everything.
PORTFOLIO_ROLE_PERMISSIONS = {
    "governance_board": [
        "portfolio.view_portfolio",
        "portfolio.view_portfoliosnapshot",
        "portfolio.view_maturityassessment",
        "portfolio.add_maturityassessment",
        "portfolio.view_patternminimum",
    ],
    "leadership_viewer": [
        "portfolio.view_portfolio",
        "portfolio.view_portfoliosnapshot",
        "portfolio.view_maturityassessment",
        "portfolio.view_patternminimum",
    ],
    "platform_admin": [
        "portfolio.view_portfolio",
        "portfolio.view_portfoliosnapshot",
        "portfolio.view_maturityassessment",
        "portfolio.add_maturityassessment",
        "portfolio.view_patternminimum",
        "portfolio.change_patternminimum",
    ],
}


class PortfolioConfig(AppConfig):
    name = "portfolio"
    verbose_name = "Portfolio"

    def ready(self):
        from portfolio import checks
        from registry.roles import ROLE_PERMISSIONS

        for role, perms in PORTFOLIO_ROLE_PERMISSIONS.items():
            for perm in perms:
                if perm not in ROLE_PERMISSIONS[role]:
                    ROLE_PERMISSIONS[role].append(perm)
        checks.register_maturity_trap_check()

        from portfolio import views
        from registry import hooks

        if (30, views.landing_for_leadership) not in hooks.landing_pages:
            hooks.landing_pages.append((30, views.landing_for_leadership))
