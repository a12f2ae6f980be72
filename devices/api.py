"""API for hardware targets: list, detail, and new computed targets (measured ones register themselves)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .access import target_for_user, targets_for_user
from .models import HardwareTarget


class TargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = HardwareTarget
        fields = ["id", "name", "kind", "specs", "metric", "host", "owner", "project", "created_at", "last_seen_at"]


class TargetCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, allow_blank=True)
    kind = serializers.CharField(max_length=20, help_text="benchmark or analytical")
    specs = serializers.DictField(required=False, default=dict, help_text='e.g. {"device": "pixel3"}')
    metric = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)


class TargetList(APIView):
    @extend_schema(responses=TargetSerializer(many=True),
                   summary="Hardware targets you may see: the shared ones, yours and your projects'")
    def get(self, request):
        return Response(TargetSerializer(targets_for_user(request.user).order_by("name"), many=True).data)

    @extend_schema(request=TargetCreateSerializer, responses={201: TargetSerializer},
                   summary="New benchmark or analytical target, yours")
    def post(self, request):
        serializer = TargetCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        target = services.create_target(d["name"], d["kind"], d["specs"], d["metric"] or None, owner=request.user)
        return Response(TargetSerializer(target).data, status=status.HTTP_201_CREATED)


class TargetDetail(APIView):
    @extend_schema(responses=TargetSerializer)
    def get(self, request, target_id: int):
        return Response(TargetSerializer(target_for_user(request.user, target_id)).data)
