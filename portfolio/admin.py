"""Admin: the maturity policy is edited here by platform administrators, through the audited service."""

from django.contrib import admin

from portfolio import services
from portfolio.choices import DIMENSIONS
from portfolio.models import MaturityAssessment, PatternMinimum, PortfolioSnapshot


@admin.register(PatternMinimum)
class PatternMinimumAdmin(admin.ModelAdmin):
    list_display = ("pattern", *DIMENSIONS, "version", "updated_at", "updated_by")
    fields = ("pattern", *DIMENSIONS, "version", "updated_by", "updated_at")
    readonly_fields = ("pattern", "version", "updated_by", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so the version goes up and the audit trail keeps the old levels.
        levels = {name: form.cleaned_data[name] for name in DIMENSIONS}
        services.update_pattern_minimum(PatternMinimum.objects.get(pk=obj.pk), actor=request.user, **levels)


@admin.register(MaturityAssessment)
class MaturityAssessmentAdmin(admin.ModelAdmin):
    """Read-only here: assessments are recorded on the unit's maturity page and never edited."""

    list_display = ("business_unit", "assessed_on", *DIMENSIONS, "assessed_by_repr")
    list_filter = ("business_unit",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(admin.ModelAdmin):
    list_display = ("taken_on", "taken_at", "open_shadow_agents")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
