"""The firmware pages: images (upload), campaigns (create, and each one's live page with pause,
resume and cancel), and a station's updates (on its security page)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.views import operators_only
from firmware import campaigns, services
from firmware.models import Campaign, FirmwareImage, FirmwareUpdate


class ImageForm(forms.Form):
    name = forms.CharField(max_length=120)
    version = forms.CharField(max_length=50, help_text="What stations report once it is installed.")
    vendor = forms.CharField(max_length=50, required=False)
    model = forms.CharField(max_length=50, required=False)
    file = forms.FileField()
    signature = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Base64, for a signed update.",
    )
    signing_certificate = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="PEM."
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if bool(data.get("signature")) != bool(data.get("signing_certificate")):
            raise forms.ValidationError(
                "A signed image needs both its signature and its signing certificate."
            )
        return data


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=120)
    image = forms.ModelChoiceField(queryset=FirmwareImage.objects.all())
    vendor = forms.CharField(max_length=50, required=False)
    model = forms.CharField(max_length=50, required=False)
    from_version = forms.CharField(max_length=50, required=False, label="Only stations on version")
    canary_percent = forms.IntegerField(min_value=1, max_value=100, initial=10, label="Canary %")
    success_gate = forms.IntegerField(
        min_value=0, max_value=100, initial=90, label="Success gate %"
    )
    concurrency = forms.IntegerField(min_value=1, max_value=1000, initial=20)


@operators_only
def firmware(request: HttpRequest) -> HttpResponse:
    image_form = ImageForm()
    campaign_form = CampaignForm()
    if request.method == "POST" and "upload" in request.POST:
        image_form = ImageForm(request.POST, request.FILES)
        if image_form.is_valid():
            data = image_form.cleaned_data
            upload = data["file"]
            image = services.store_image(
                data["name"], data["version"], upload, upload.name, vendor=data["vendor"], model=data["model"],
                signature=data["signature"], signing_certificate=data["signing_certificate"], user=request.user,
            )  # fmt: skip
            messages.success(request, f"{image} uploaded ({image.size} bytes).")
            return redirect("dashboard:firmware")
    elif request.method == "POST":
        campaign_form = CampaignForm(request.POST)
        if campaign_form.is_valid():
            data = campaign_form.cleaned_data
            image = data.pop("image")
            campaign = campaigns.create(data.pop("name"), image, user=request.user, **data)
            return redirect("dashboard:campaign", campaign.pk)
    return render(
        request,
        "dashboard/firmware.html",
        {
            "images": FirmwareImage.objects.all()[:100],
            "campaigns": Campaign.objects.select_related("image")[:50],
            "image_form": image_form,
            "campaign_form": campaign_form,
            "nav": "firmware",
        },
    )


@operators_only
def campaign(request: HttpRequest, campaign_id: int) -> HttpResponse:
    found = get_object_or_404(Campaign.objects.select_related("image"), pk=campaign_id)
    return render(
        request,
        "dashboard/campaign.html",
        {
            "campaign": found,
            "progress": campaigns.progress(found.pk),
            "updates": FirmwareUpdate.objects.filter(campaign=found).order_by(
                "-canary", "station_id"
            )[:1000],
            "nav": "firmware",
        },
    )


@require_POST
@operators_only
def campaign_action(request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
    change = {"pause": campaigns.pause, "resume": campaigns.resume, "cancel": campaigns.cancel}.get(
        action
    )
    if change is None:
        return HttpResponse("Unknown action", status=404)
    change(get_object_or_404(Campaign, pk=campaign_id).pk)
    return redirect("dashboard:campaign", campaign_id)
