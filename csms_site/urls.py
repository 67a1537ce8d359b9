from django.contrib import admin
from django.urls import path

admin.site.site_header = "CSMS administration"
admin.site.site_title = "CSMS"
admin.site.index_title = "Charging network"

urlpatterns = [
    path("admin/", admin.site.urls),
]
